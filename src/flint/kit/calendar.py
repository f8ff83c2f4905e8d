"""Exchange trading calendars: which days trade and when each session opens and closes.

Three calendars are modelled, each named by a code:

* ``"XNYS"`` (aliases ``"NYSE"``, ``"XNAS"``, ``"NASDAQ"``): US equities. Regular sessions run
  09:30-16:00 America/New_York on weekdays that are not NYSE holidays (taken from the
  ``holidays`` package, which includes one-off closures such as national days of mourning).
  ``holidays`` does not model half days, so the 13:00 early closes are coded here: July 3 and
  December 24 when they are trading days, and the day after Thanksgiving.
* ``"24/7"`` (alias ``"CRYPTO"``): every calendar day, 00:00-24:00 UTC.
* ``"FX"`` (aliases ``"FOREX"``, ``"24/5"``): Monday-Friday, 00:00-24:00 UTC. Real FX trades from
  Sunday evening to Friday evening New York time; whole UTC weekdays keep daily bars aligned
  with calendar dates.

Session instants are timezone-aware UTC datetimes; per-year results are cached.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

XNYS = "XNYS"
CRYPTO = "24/7"
FX = "FX"

_ALIASES = {
    "XNYS": XNYS,
    "NYSE": XNYS,
    "XNAS": XNYS,
    "NASDAQ": XNYS,
    "24/7": CRYPTO,
    "CRYPTO": CRYPTO,
    "FX": FX,
    "FOREX": FX,
    "24/5": FX,
}

NEW_YORK = ZoneInfo("America/New_York")
_NYSE_OPEN = time(9, 30)
_NYSE_CLOSE = time(16, 0)
_NYSE_EARLY_CLOSE = time(13, 0)
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Session:
    """One trading session: its trading date and its open/close instants in UTC."""

    day: date
    open: datetime
    close: datetime
    early_close: bool = False

    @property
    def seconds(self) -> int:
        """Length of the session in whole seconds."""
        return int((self.close - self.open).total_seconds())


def canonical(calendar: str) -> str:
    """Return the canonical code for ``calendar``; raise ValueError for unknown names."""
    try:
        return _ALIASES[calendar.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown trading calendar: {calendar!r}") from None


def timezone_of(calendar: str) -> ZoneInfo:
    """The zone whose wall-clock date names a session (New York for XNYS, UTC otherwise)."""
    return NEW_YORK if canonical(calendar) == XNYS else ZoneInfo("UTC")


@lru_cache(maxsize=512)
def nyse_holidays(year: int) -> frozenset[date]:
    """NYSE full-day closures falling on weekdays in ``year``."""
    closed = holidays.financial_holidays("NYSE", years=year)
    return frozenset(d for d in closed if d.year == year and d.weekday() < 5)


@lru_cache(maxsize=512)
def nyse_early_closes(year: int) -> frozenset[date]:
    """NYSE 13:00 closes in ``year``: July 3, day after Thanksgiving, December 24."""
    closed = nyse_holidays(year)
    november_first = date(year, 11, 1)
    thanksgiving = november_first + timedelta(days=(3 - november_first.weekday()) % 7 + 21)
    candidates = (date(year, 7, 3), thanksgiving + _ONE_DAY, date(year, 12, 24))
    return frozenset(d for d in candidates if d.weekday() < 5 and d not in closed)


def _trades_on(d: date, calendar: str) -> bool:
    if calendar == CRYPTO:
        return True
    if d.weekday() >= 5:
        return False
    return calendar == FX or d not in nyse_holidays(d.year)


@lru_cache(maxsize=1024)
def trading_days_in_year(year: int, calendar: str = XNYS) -> tuple[date, ...]:
    """Every trading day of ``year`` in ascending order (cached per calendar and year)."""
    code = canonical(calendar)
    first = date(year, 1, 1)
    count = (date(year + 1, 1, 1) - first).days
    days = (first + timedelta(days=i) for i in range(count))
    return tuple(d for d in days if _trades_on(d, code))


WARM_YEARS = 12
"""The years before this one whose NYSE calendar `warm` works out (a decade of history, the
usual span of an import, and a little more)."""


def warm(today: date) -> None:
    """Work out the NYSE calendar from `WARM_YEARS` years ago to next year now, at a process's
    start, rather than in its first request or task: the first use imports the holidays
    package's financial calendars (about 300 modules, 0.1 s) and builds each year's days."""
    for year in range(today.year - WARM_YEARS, today.year + 2):
        trading_days_in_year(year, XNYS)
        nyse_early_closes(year)


def is_trading_day(d: date, calendar: str = XNYS) -> bool:
    """True when ``calendar`` holds a session on date ``d``."""
    return _trades_on(d, canonical(calendar))


def trading_days(start: date, end: date, calendar: str = XNYS) -> list[date]:
    """Trading days in ``[start, end]`` inclusive, ascending; empty when start > end."""
    code = canonical(calendar)
    result: list[date] = []
    for year in range(start.year, end.year + 1):
        days = trading_days_in_year(year, code)
        lo = bisect.bisect_left(days, start)
        hi = bisect.bisect_right(days, end)
        result.extend(days[lo:hi])
    return result


def previous_trading_day(d: date, calendar: str = XNYS) -> date:
    """The last trading day strictly before ``d``."""
    code = canonical(calendar)
    day = d - _ONE_DAY
    while not _trades_on(day, code):
        day -= _ONE_DAY
    return day


def next_trading_day(d: date, calendar: str = XNYS) -> date:
    """The first trading day strictly after ``d``."""
    code = canonical(calendar)
    day = d + _ONE_DAY
    while not _trades_on(day, code):
        day += _ONE_DAY
    return day


def session(d: date, calendar: str = XNYS) -> Session | None:
    """The session held on ``d``, or None when the market is closed all day."""
    return _session(d, canonical(calendar))


@lru_cache(maxsize=65536)
def _session(d: date, code: str) -> Session | None:
    if not _trades_on(d, code):
        return None
    if code != XNYS:
        start = datetime.combine(d, time(0, 0), tzinfo=UTC)
        return Session(d, start, start + _ONE_DAY)
    early = d in nyse_early_closes(d.year)
    close_at = _NYSE_EARLY_CLOSE if early else _NYSE_CLOSE
    return Session(
        d,
        datetime.combine(d, _NYSE_OPEN, tzinfo=NEW_YORK).astimezone(UTC),
        datetime.combine(d, close_at, tzinfo=NEW_YORK).astimezone(UTC),
        early,
    )


def session_open(d: date, calendar: str = XNYS) -> datetime:
    """Opening instant (UTC) of the session on ``d``; ValueError when ``d`` does not trade."""
    found = session(d, calendar)
    if found is None:
        raise ValueError(f"{d.isoformat()} is not a trading day on {canonical(calendar)}")
    return found.open


def session_opens(start: date, end: date, calendar: str = XNYS) -> tuple[datetime, ...]:
    """Opening instants (UTC) of the sessions in ``[start, end]``, ascending (cached: the
    symbols of one backfill share their windows, a decade of sessions each)."""
    return _session_opens(start, end, canonical(calendar))


@lru_cache(maxsize=256)
def _session_opens(start: date, end: date, code: str) -> tuple[datetime, ...]:
    opens: list[datetime] = []
    for day in trading_days(start, end, code):
        found = _session(day, code)
        assert found is not None  # a trading day holds a session
        opens.append(found.open)
    return tuple(opens)


def session_close(d: date, calendar: str = XNYS) -> datetime:
    """Closing instant (UTC) of the session on ``d``; ValueError when ``d`` does not trade."""
    found = session(d, calendar)
    if found is None:
        raise ValueError(f"{d.isoformat()} is not a trading day on {canonical(calendar)}")
    return found.close


def local_date(instant: datetime, calendar: str = XNYS) -> date:
    """The date, in the calendar's own zone, on which an aware ``instant`` falls."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    return instant.astimezone(timezone_of(calendar)).date()


def latest_session(instant: datetime, calendar: str = XNYS) -> Session:
    """The most recent session that has opened at or before ``instant`` (it may still be open)."""
    code = canonical(calendar)
    day = local_date(instant, code)
    today = session(day, code)
    if today is not None and today.open <= instant:
        return today
    found = session(previous_trading_day(day, code), code)
    assert found is not None
    return found
