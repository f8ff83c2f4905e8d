import asyncio
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Hashable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flint.kit.calendar import CRYPTO, FX, XNYS, trading_days
from flint.market.providers import _simpath
from flint.market.providers._simdata import reference_closes, reference_date
from flint.market.providers.simulated import SimulatedMarket
from flint.market.providers.types import (
    Bar,
    HistoryRangeTooLarge,
    InstrumentType,
    Interval,
    MarketDataProvider,
    SymbolNotFound,
    quantize_price,
)
from flint.market.universe import load_universe

LATER = datetime(2050, 1, 1, tzinfo=UTC)
REFERENCE_DAY = date(2024, 12, 31)  # a "now" after every bar these tests ask for
SYMBOLS = [inst.symbol for inst in load_universe()]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def clear_caches() -> None:
    _simpath.year_series.cache_clear()
    _simpath.tick_shape.cache_clear()
    _simpath._year_total.cache_clear()
    _simpath._w_at_year_start.cache_clear()
    _simpath._w_path.cache_clear()
    _simpath._composite.cache_clear()
    _simpath._anchor.cache_clear()


async def daily(symbol: str, start: date, end: date) -> list[Bar]:
    return await SimulatedMarket().history(symbol, start, end, Interval.D1, now=LATER)


def assert_consistent(bar: Bar) -> None:
    assert bar.low <= min(bar.open, bar.close)
    assert max(bar.open, bar.close) <= bar.high
    assert bar.low > 0
    assert bar.volume >= 0
    assert 0 < bar.adj_close <= bar.close  # later splits and dividends only lower it
    assert bar.timestamp.tzinfo is not None
    assert bar.timestamp.utcoffset() == timedelta(0)


def test_simulated_market_satisfies_the_provider_protocol() -> None:
    assert isinstance(SimulatedMarket(), MarketDataProvider)
    assert SimulatedMarket.name == "simulated"


async def test_same_symbol_and_date_give_identical_bars_in_any_request_order() -> None:
    start, end = date(2023, 12, 20), date(2024, 1, 10)
    forward = {s: await daily(s, start, end) for s in ("AAPL", "BTC-USD", "EURUSD=X")}
    clear_caches()
    for symbol in ("EURUSD=X", "BTC-USD", "AAPL"):
        one_by_one = [
            bar
            for day in reversed(range((end - start).days + 1))
            for bar in await daily(symbol, start + timedelta(days=day), start + timedelta(days=day))
        ]
        assert list(reversed(one_by_one)) == forward[symbol]


def test_bars_do_not_depend_on_the_process_or_its_hash_seed() -> None:
    script = (
        "import asyncio, json, datetime as d\n"
        "from flint.market.providers.simulated import SimulatedMarket\n"
        "now = d.datetime(2030, 1, 1, tzinfo=d.UTC)\n"
        "bars = asyncio.run(SimulatedMarket().history("
        "'MSFT', d.date(2024, 3, 1), d.date(2024, 3, 8), '1d', now=now))\n"
        "print(json.dumps([[str(b.open), str(b.high), str(b.low), str(b.close), b.volume]"
        " for b in bars]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    bars = asyncio.run(
        SimulatedMarket().history("MSFT", date(2024, 3, 1), date(2024, 3, 8), "1d", now=LATER)
    )
    here = [[str(b.open), str(b.high), str(b.low), str(b.close), b.volume] for b in bars]
    assert json.loads(out.stdout) == here


async def test_known_bars_stay_the_same_across_releases() -> None:
    # If the model changes on purpose, update these values and say so in the changelog.
    (aapl,) = await daily("AAPL", date(2024, 6, 3), date(2024, 6, 3))
    (btc,) = await daily("BTC-USD", date(2024, 6, 1), date(2024, 6, 1))
    assert (aapl.open, aapl.high, aapl.low, aapl.close) == GOLDEN_AAPL
    assert (btc.open, btc.high, btc.low, btc.close) == GOLDEN_BTC
    assert (aapl.volume, btc.volume) == (55661723, 11907194686)


async def test_equities_skip_weekends_and_nyse_holidays_while_crypto_trades_daily() -> None:
    start, end = date(2024, 3, 25), date(2024, 4, 7)
    aapl_days = [bar.timestamp.date() for bar in await daily("AAPL", start, end)]
    btc_days = [bar.timestamp.date() for bar in await daily("BTC-USD", start, end)]
    assert date(2024, 3, 29) not in aapl_days  # Good Friday
    assert all(day.weekday() < 5 for day in aapl_days)
    assert aapl_days == trading_days(start, end, XNYS)
    assert btc_days == [start + timedelta(days=i) for i in range(14)]
    for holiday in (date(2024, 7, 4), date(2024, 12, 25)):
        assert await daily("AAPL", holiday, holiday) == []
        assert [b.timestamp.date() for b in await daily("BTC-USD", holiday, holiday)] == [holiday]


async def test_daily_bars_are_stamped_with_the_session_open_in_utc() -> None:
    (aapl,) = await daily("AAPL", date(2024, 1, 2), date(2024, 1, 2))
    (btc,) = await daily("BTC-USD", date(2024, 1, 2), date(2024, 1, 2))
    assert aapl.timestamp == utc(2024, 1, 2, 14, 30)
    assert btc.timestamp == utc(2024, 1, 2)


async def test_early_close_day_ends_intraday_bars_at_1300_new_york() -> None:
    market = SimulatedMarket()
    day = date(2024, 11, 29)
    minutes = await market.history("AAPL", day, day, Interval.M1, now=LATER)
    hours = await market.history("AAPL", day, day, Interval.H1, now=LATER)
    assert len(minutes) == 210  # 09:30 to 13:00
    assert minutes[0].timestamp == utc(2024, 11, 29, 14, 30)
    assert minutes[-1].timestamp == utc(2024, 11, 29, 17, 59)  # 12:59-13:00 New York
    assert [bar.timestamp.hour for bar in hours] == [14, 15, 16, 17]


@pytest.mark.parametrize(
    ("symbol", "day", "interval", "count"),
    [
        ("AAPL", date(2024, 6, 3), Interval.M1, 390),
        ("AAPL", date(2024, 6, 3), Interval.M5, 78),
        ("SPY", date(2024, 6, 3), Interval.M15, 26),
        ("^GSPC", date(2024, 6, 3), Interval.H1, 7),
        ("BTC-USD", date(2024, 6, 8), Interval.H1, 24),
        ("ETH-USD", date(2024, 6, 8), Interval.M5, 288),
        ("EURUSD=X", date(2024, 6, 3), Interval.M15, 96),
    ],
)
async def test_intraday_bars_agree_with_the_daily_bar(
    symbol: str, day: date, interval: Interval, count: int
) -> None:
    market = SimulatedMarket()
    (whole,) = await market.history(symbol, day, day, Interval.D1, now=LATER)
    bars = await market.history(symbol, day, day, interval, now=LATER)
    assert len(bars) == count
    assert bars[0].timestamp == whole.timestamp
    assert bars[0].open == whole.open
    assert bars[-1].close == whole.close
    assert max(bar.high for bar in bars) == whole.high
    assert min(bar.low for bar in bars) == whole.low
    assert sum(bar.volume for bar in bars) == whole.volume
    for bar in bars:
        assert_consistent(bar)
    for earlier, later in itertools.pairwise(bars):
        assert later.timestamp - earlier.timestamp == timedelta(seconds=interval.seconds)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbol=st.sampled_from(SYMBOLS),
    start=st.dates(min_value=date(1975, 1, 1), max_value=date(2040, 12, 31)),
    span=st.integers(min_value=0, max_value=40),
)
def test_daily_bars_keep_ohlc_invariants_for_any_symbol_and_date(
    symbol: str, start: date, span: int
) -> None:
    end = start + timedelta(days=span)
    bars = asyncio.run(SimulatedMarket().history(symbol, start, end, Interval.D1, now=LATER))
    kind = load_universe().get(symbol).type  # type: ignore[union-attr]
    calendar = {InstrumentType.CRYPTO: CRYPTO, InstrumentType.FX: FX}.get(kind, XNYS)
    assert [b.timestamp.date() for b in bars] == trading_days(start, end, calendar)
    for bar in bars:
        assert_consistent(bar)
        assert bar.volume > 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    symbol=st.sampled_from(SYMBOLS),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2029, 12, 31)),
    interval=st.sampled_from([Interval.M5, Interval.M15, Interval.H1]),
)
def test_intraday_bars_keep_ohlc_invariants_for_any_symbol_and_day(
    symbol: str, day: date, interval: Interval
) -> None:
    market = SimulatedMarket()
    bars = asyncio.run(market.history(symbol, day, day, interval, now=LATER))
    whole = asyncio.run(market.history(symbol, day, day, Interval.D1, now=LATER))
    assert bool(bars) == bool(whole)
    for bar in bars:
        assert_consistent(bar)
        assert whole[0].low <= bar.low
        assert bar.high <= whole[0].high


async def test_weekly_and_monthly_bars_aggregate_the_daily_bars() -> None:
    market = SimulatedMarket()
    start, end = date(2024, 1, 3), date(2024, 3, 27)
    days = await market.history("AAPL", date(2024, 1, 1), date(2024, 3, 31), "1d", now=LATER)
    weeks = await market.history("AAPL", start, end, Interval.W1, now=LATER)
    months = await market.history("AAPL", start, end, Interval.MO1, now=LATER)

    def grouped(key: Callable[[date], Hashable]) -> list[Bar]:
        groups: dict[Hashable, list[Bar]] = {}
        for bar in days:
            groups.setdefault(key(bar.timestamp.date()), []).append(bar)
        return [
            Bar(
                g[0].timestamp,
                g[0].open,
                max(b.high for b in g),
                min(b.low for b in g),
                g[-1].close,
                g[-1].adj_close,
                sum(b.volume for b in g),
            )
            for g in groups.values()
        ]

    assert weeks == grouped(lambda d: d.isocalendar()[:2])
    assert months == grouped(lambda d: (d.year, d.month))
    assert weeks[0].timestamp == utc(2024, 1, 2, 14, 30)  # Monday Jan 1 was a holiday
    assert len(months) == 3


async def test_history_never_returns_bars_that_have_not_finished_by_now() -> None:
    market = SimulatedMarket()
    now = utc(2024, 6, 5, 15, 2, 30)  # Wednesday 11:02:30 New York
    days = await market.history("AAPL", date(2024, 6, 1), date(2024, 6, 30), "1d", now=now)
    minutes = await market.history("AAPL", date(2024, 6, 5), date(2024, 6, 30), "1m", now=now)
    assert days[-1].timestamp.date() == date(2024, 6, 4)
    assert minutes[-1].timestamp == utc(2024, 6, 5, 15, 1)
    assert await market.history("AAPL", date(2031, 1, 1), date(2031, 2, 1), "1d", now=now) == []


async def test_ten_years_of_daily_history_covers_every_trading_day() -> None:
    start, end = date(2014, 1, 1), date(2023, 12, 31)
    bars = await daily("MSFT", start, end)
    assert [bar.timestamp.date() for bar in bars] == trading_days(start, end, XNYS)


async def test_long_intraday_ranges_are_refused() -> None:
    market = SimulatedMarket()
    with pytest.raises(HistoryRangeTooLarge):
        await market.history("AAPL", date(2024, 1, 1), date(2024, 3, 1), "1m", now=LATER)
    assert await market.history("AAPL", date(2024, 3, 1), date(2024, 1, 1), "1m", now=LATER) == []


def test_the_data_file_states_the_reference_date() -> None:
    assert reference_date() == REFERENCE_DAY


async def test_every_instrument_closes_at_its_reference_close_on_the_reference_date() -> None:
    market, checked = SimulatedMarket(), 0
    for symbol, level in reference_closes().items():
        kind = market.instrument(symbol).type  # type: ignore[union-attr]
        (bar,) = await daily(symbol, REFERENCE_DAY, REFERENCE_DAY)
        assert bar.close == quantize_price(level, kind), symbol
        checked += 1
    assert checked >= 700


@pytest.mark.parametrize(
    ("symbol", "level"),
    [
        ("^GSPC", Decimal("5881.63")),
        ("SPY", Decimal("586.08")),
        ("VTI", Decimal("289.81")),
        ("AAPL", Decimal("250.42")),
        ("NVDA", Decimal("134.29")),
        ("BTC-USD", Decimal("93429.20")),
        ("ETH-USD", Decimal("3332.48")),
        ("EURUSD=X", Decimal("1.0354")),
        ("USDJPY=X", Decimal("157.20")),
        ("USDT-USD", Decimal("0.9986")),
    ],
)
async def test_well_known_instruments_trade_near_their_real_level_around_the_reference_date(
    symbol: str, level: Decimal
) -> None:
    bars = await daily(symbol, date(2024, 12, 16), date(2025, 1, 15))
    assert len(bars) >= 20
    for bar in bars:
        assert Decimal("0.8") * level < bar.close < Decimal("1.25") * level


async def test_intraday_history_spans_several_sessions_in_order() -> None:
    bars = await SimulatedMarket().history(
        "AAPL", date(2024, 6, 7), date(2024, 6, 11), Interval.M15, now=LATER
    )
    sessions = sorted({bar.timestamp.date() for bar in bars})
    assert sessions == [date(2024, 6, 7), date(2024, 6, 10), date(2024, 6, 11)]
    assert len(bars) == 3 * 26
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)


async def test_tracking_instruments_follow_their_index() -> None:
    spy = await daily("SPY", date(2024, 6, 3), date(2024, 6, 7))
    gspc = await daily("^GSPC", date(2024, 6, 3), date(2024, 6, 7))
    for etf, index in zip(spy, gspc, strict=True):
        assert abs(etf.close / index.close - Decimal("586.08") / Decimal("5881.63")) < Decimal(
            "0.00001"
        )


async def test_prices_are_rounded_to_the_precision_of_their_kind() -> None:
    (aapl,) = await daily("AAPL", date(2024, 6, 3), date(2024, 6, 3))
    (eurusd,) = await daily("EURUSD=X", date(2024, 6, 3), date(2024, 6, 3))
    (usdjpy,) = await daily("USDJPY=X", date(2024, 6, 3), date(2024, 6, 3))
    (shib,) = await daily("SHIB-USD", date(2024, 6, 3), date(2024, 6, 3))
    assert aapl.close.as_tuple().exponent == -2
    assert eurusd.close.as_tuple().exponent == -5
    assert usdjpy.close.as_tuple().exponent == -3
    assert len(shib.close.normalize().as_tuple().digits) <= 6
    assert shib.close < Decimal("0.001")


async def test_quote_moves_every_five_seconds_within_a_session() -> None:
    market = SimulatedMarket()
    start = utc(2024, 6, 3, 15, 0)
    quotes = [await market.quote("AAPL", start + timedelta(seconds=5 * i)) for i in range(60)]
    moves = sum(a.price != b.price for a, b in itertools.pairwise(quotes))
    assert moves >= 10
    assert [q.timestamp for q in quotes] == [start + timedelta(seconds=5 * i) for i in range(60)]
    same_tick = await market.quote("AAPL", start + timedelta(seconds=4, microseconds=999))
    assert same_tick == quotes[0]
    assert await market.quote("AAPL", start) == quotes[0]


async def test_quote_in_session_reports_the_day_so_far() -> None:
    market = SimulatedMarket()
    (today,) = await daily("AAPL", date(2024, 6, 3), date(2024, 6, 3))
    (yesterday,) = await daily("AAPL", date(2024, 5, 31), date(2024, 5, 31))
    quote = await market.quote("AAPL", utc(2024, 6, 3, 17, 0))
    assert quote.open == today.open
    assert quote.previous_close == yesterday.close
    assert quote.low <= quote.price <= quote.high
    assert today.low <= quote.low
    assert quote.high <= today.high
    assert 0 < quote.volume < today.volume
    assert quote.change == quote.price - quote.previous_close
    expected = (quote.change / quote.previous_close * 100).quantize(Decimal("0.01"))
    assert quote.change_percent == expected
    assert (quote.currency, quote.provider, quote.symbol) == ("USD", "simulated", "AAPL")


async def test_quote_outside_session_hours_is_the_last_close() -> None:
    market = SimulatedMarket()
    (friday,) = await daily("AAPL", date(2024, 6, 7), date(2024, 6, 7))
    (thursday,) = await daily("AAPL", date(2024, 6, 6), date(2024, 6, 6))
    for now in (utc(2024, 6, 8, 12), utc(2024, 6, 9, 23), utc(2024, 6, 10, 13, 29, 59)):
        quote = await market.quote("AAPL", now)
        assert quote.price == friday.close
        assert (quote.open, quote.high, quote.low) == (friday.open, friday.high, friday.low)
        assert quote.previous_close == thursday.close
        assert quote.volume == friday.volume
        assert quote.timestamp == utc(2024, 6, 7, 20, 0)
    at_close = await market.quote("AAPL", utc(2024, 6, 7, 20, 0))
    assert at_close.price == friday.close


async def test_crypto_quote_keeps_moving_on_a_saturday() -> None:
    market = SimulatedMarket()
    first = await market.quote("BTC-USD", utc(2024, 6, 8, 12, 0))
    later = await market.quote("BTC-USD", utc(2024, 6, 8, 12, 30))
    assert first.price != later.price
    (friday,) = await daily("BTC-USD", date(2024, 6, 7), date(2024, 6, 7))
    assert first.previous_close == friday.close


async def test_unknown_symbols_raise_symbol_not_found() -> None:
    market = SimulatedMarket()
    assert market.instrument("NOPE") is None
    with pytest.raises(SymbolNotFound) as raised:
        await market.quote("NOPE", LATER)
    assert raised.value.symbol == "NOPE"
    with pytest.raises(SymbolNotFound):
        await market.history("NOPE", date(2024, 1, 1), date(2024, 1, 5), Interval.D1)


async def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await SimulatedMarket().quote("AAPL", datetime(2024, 6, 3, 15, 0))  # noqa: DTZ001


async def test_quote_without_now_uses_the_current_time() -> None:
    quote = await SimulatedMarket().quote("BTC-USD")
    assert abs(quote.timestamp - datetime.now(UTC)) < timedelta(minutes=1)


GOLDEN_AAPL = (Decimal("272.44"), Decimal("272.71"), Decimal("265.32"), Decimal("267.80"))
GOLDEN_BTC = (
    Decimal("107785.36"),
    Decimal("120368.96"),
    Decimal("104625.04"),
    Decimal("115055.94"),
)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_tick_path_reaches_high_and_low_even_when_the_bridge_stays_on_one_side(
    sign: float,
) -> None:
    steps = 100
    position = np.linspace(0.0, 1.0, steps + 1)
    one_sided = sign * position * (1.0 - position)  # never crosses zero inside the session
    shape = _simpath.TickShape(one_sided, position)
    path = _simpath.tick_path(shape, 0.0, 0.05, -0.04, 0.01)
    assert (path[0], path[-1]) == (0.0, 0.01)
    assert (path.max(), path.min()) == (0.05, -0.04)


@pytest.mark.parametrize("symbol", ["AAPL", "NVDA", "BTC-USD", "EURUSD=X", "SPY"])
def test_a_year_of_days_made_at_once_is_each_day_made_alone(symbol: str) -> None:
    from flint.market.providers import simulated

    market = SimulatedMarket()
    _, pricing = market._resolve(symbol)
    for year in (2015, 2020, 2024):
        series = _simpath.year_series(pricing.model, year)
        alone = [simulated._day(pricing, series, i) for i in range(len(series.days))]
        assert simulated._days(pricing, series, 0, len(series.days)) == alone
