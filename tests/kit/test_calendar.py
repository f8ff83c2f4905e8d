from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flint.kit import calendar
from flint.kit.calendar import (
    CRYPTO,
    FX,
    XNYS,
    is_trading_day,
    latest_session,
    next_trading_day,
    previous_trading_day,
    session,
    session_close,
    session_open,
    trading_days,
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    "closed",
    [
        date(2024, 1, 1),  # New Year's Day
        date(2024, 1, 15),  # Martin Luther King Jr. Day
        date(2024, 3, 29),  # Good Friday
        date(2024, 6, 19),  # Juneteenth
        date(2024, 7, 4),  # Independence Day
        date(2024, 11, 28),  # Thanksgiving
        date(2024, 12, 25),  # Christmas
        date(2025, 1, 9),  # National Day of Mourning for Jimmy Carter
        date(2021, 12, 24),  # Christmas observed on the Friday before
    ],
)
def test_nyse_holidays_are_not_trading_days(closed: date) -> None:
    assert not is_trading_day(closed, XNYS)
    assert session(closed, XNYS) is None


def test_weekends_do_not_trade_on_nyse_or_fx_but_do_on_crypto() -> None:
    saturday, sunday = date(2024, 6, 8), date(2024, 6, 9)
    for day in (saturday, sunday):
        assert not is_trading_day(day, XNYS)
        assert not is_trading_day(day, FX)
        assert is_trading_day(day, CRYPTO)


@pytest.mark.parametrize(("year", "count"), [(2021, 252), (2022, 251), (2023, 250), (2024, 252)])
def test_nyse_year_has_the_published_number_of_trading_days(year: int, count: int) -> None:
    assert len(trading_days(date(year, 1, 1), date(year, 12, 31), XNYS)) == count


def test_regular_session_is_0930_to_1600_new_york_in_utc_across_dst() -> None:
    winter = session(date(2024, 1, 2), XNYS)
    summer = session(date(2024, 7, 1), XNYS)
    assert winter is not None
    assert summer is not None
    assert (winter.open, winter.close) == (utc(2024, 1, 2, 14, 30), utc(2024, 1, 2, 21, 0))
    assert (summer.open, summer.close) == (utc(2024, 7, 1, 13, 30), utc(2024, 7, 1, 20, 0))
    assert not summer.early_close
    assert summer.seconds == 6 * 3600 + 30 * 60


@pytest.mark.parametrize(
    "half_day",
    [date(2024, 7, 3), date(2024, 11, 29), date(2024, 12, 24), date(2023, 7, 3), date(2025, 7, 3)],
)
def test_early_closes_end_at_1300_new_york(half_day: date) -> None:
    found = session(half_day, XNYS)
    assert found is not None
    assert found.early_close
    assert found.close.astimezone(calendar.NEW_YORK).time().isoformat() == "13:00:00"
    assert found.open.astimezone(calendar.NEW_YORK).time().isoformat() == "09:30:00"


@pytest.mark.parametrize("full_day", [date(2020, 7, 2), date(2022, 12, 23), date(2024, 7, 5)])
def test_days_next_to_holidays_without_a_half_day_rule_close_at_1600(full_day: date) -> None:
    found = session(full_day, XNYS)
    assert found is not None
    assert not found.early_close
    assert found.close.astimezone(calendar.NEW_YORK).hour == 16


def test_crypto_session_is_the_whole_utc_day_even_on_christmas() -> None:
    found = session(date(2024, 12, 25), CRYPTO)
    assert found is not None
    assert (found.open, found.close) == (utc(2024, 12, 25), utc(2024, 12, 26))


def test_fx_trades_whole_utc_weekdays_including_us_holidays() -> None:
    found = session(date(2024, 7, 4), FX)
    assert found is not None
    assert (found.open, found.close) == (utc(2024, 7, 4), utc(2024, 7, 5))
    assert trading_days(date(2024, 6, 3), date(2024, 6, 9), FX) == [
        date(2024, 6, d) for d in range(3, 8)
    ]


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
    length=st.integers(min_value=0, max_value=800),
    code=st.sampled_from([XNYS, CRYPTO, FX]),
)
def test_trading_days_lists_exactly_the_trading_days_of_the_range(
    start: date, length: int, code: str
) -> None:
    end = start + timedelta(days=length)
    expected = [
        start + timedelta(days=i)
        for i in range(length + 1)
        if is_trading_day(start + timedelta(days=i), code)
    ]
    assert trading_days(start, end, code) == expected


def test_trading_days_is_empty_when_start_is_after_end() -> None:
    assert trading_days(date(2024, 6, 10), date(2024, 6, 1)) == []


def test_previous_and_next_trading_day_skip_weekends_and_holidays() -> None:
    assert previous_trading_day(date(2024, 4, 1), XNYS) == date(2024, 3, 28)  # Good Friday
    assert next_trading_day(date(2024, 7, 3), XNYS) == date(2024, 7, 5)
    assert next_trading_day(date(2024, 6, 7), FX) == date(2024, 6, 10)
    assert next_trading_day(date(2024, 6, 7), CRYPTO) == date(2024, 6, 8)


def test_latest_session_is_today_once_open_and_the_previous_one_before() -> None:
    before_open = latest_session(utc(2024, 6, 10, 13, 0), XNYS)
    after_open = latest_session(utc(2024, 6, 10, 13, 30), XNYS)
    assert before_open.day == date(2024, 6, 7)
    assert after_open.day == date(2024, 6, 10)
    # 02:00 UTC on Tuesday is still Monday evening in New York.
    assert latest_session(utc(2024, 6, 11, 2, 0), XNYS).day == date(2024, 6, 10)


def test_session_open_and_close_reject_closed_days() -> None:
    assert session_open(date(2024, 6, 10)) == utc(2024, 6, 10, 13, 30)
    assert session_close(date(2024, 6, 10)) == utc(2024, 6, 10, 20, 0)
    with pytest.raises(ValueError, match="not a trading day"):
        session_open(date(2024, 12, 25))
    with pytest.raises(ValueError, match="not a trading day"):
        session_close(date(2024, 12, 25))


def test_calendar_names_accept_aliases_and_reject_unknown_ones() -> None:
    assert is_trading_day(date(2024, 6, 10), "nasdaq")
    assert is_trading_day(date(2024, 6, 8), "crypto")
    assert not is_trading_day(date(2024, 6, 8), "forex")
    with pytest.raises(ValueError, match="unknown trading calendar"):
        is_trading_day(date(2024, 6, 10), "XLON")


def test_naive_instants_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        latest_session(datetime(2024, 6, 10, 15, 0), XNYS)  # noqa: DTZ001


def test_warm_works_out_the_recent_years_so_a_first_use_finds_them_ready() -> None:
    """`warm` (a process's start) leaves nothing for a decade's trading days to work out."""
    calendar.trading_days_in_year.cache_clear()
    calendar.nyse_early_closes.cache_clear()
    today = date(2026, 12, 3)
    calendar.warm(today)
    misses = calendar.trading_days_in_year.cache_info().misses
    early = calendar.nyse_early_closes.cache_info().misses
    days = calendar.trading_days(date(2016, 12, 3), date(2027, 12, 31))
    assert calendar.trading_days_in_year.cache_info().misses == misses
    assert days[0] == date(2016, 12, 5)
    assert days[-1] == date(2027, 12, 31)
    calendar.session_close(date(2016, 11, 25))  # the day after Thanksgiving: an early close
    assert calendar.nyse_early_closes.cache_info().misses == early
