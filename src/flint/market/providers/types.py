"""Data types shared by every market-data provider.

Prices are ``decimal.Decimal`` so that money never passes through binary floats once it leaves
a provider; :func:`quantize_price` is the one rounding rule all providers apply. Timestamps are
timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable


class InstrumentType(StrEnum):
    """What kind of thing a symbol names; drives calendars and price precision."""

    EQUITY = "equity"
    ETF = "etf"
    CRYPTO = "crypto"
    FX = "fx"
    INDEX = "index"
    FUND = "fund"


class Interval(StrEnum):
    """Bar sizes a provider can be asked for (Yahoo-style spellings)."""

    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    D1 = "1d"
    W1 = "1wk"
    MO1 = "1mo"

    @property
    def is_intraday(self) -> bool:
        """True for bars shorter than a session."""
        return self in _INTRADAY_SECONDS

    @property
    def seconds(self) -> int:
        """Length of an intraday bar in seconds; ValueError for 1d and longer."""
        try:
            return _INTRADAY_SECONDS[self]
        except KeyError:
            raise ValueError(f"{self.value} bars have no fixed length in seconds") from None


_INTRADAY_SECONDS = {Interval.M1: 60, Interval.M5: 300, Interval.M15: 900, Interval.H1: 3600}


class SymbolNotFound(Exception):
    """Raised when a provider does not know a symbol."""

    def __init__(self, symbol: str) -> None:
        super().__init__(f"unknown symbol: {symbol}")
        self.symbol = symbol


class HistoryRangeTooLarge(ValueError):
    """Raised when an intraday history request spans more days than the interval allows."""

    def __init__(self, interval: Interval, days: int, max_days: int) -> None:
        super().__init__(
            f"{interval.value} history is limited to {max_days} days per request, got {days}"
        )
        self.interval = interval
        self.days = days
        self.max_days = max_days


@dataclass(frozen=True, slots=True)
class Instrument:
    """Reference data for one tradable or quotable symbol."""

    symbol: str
    name: str
    type: InstrumentType
    exchange: str
    currency: str
    sector: str | None = None


@dataclass(frozen=True, slots=True)
class Quote:
    """A snapshot of the latest price and the current (or last) session so far."""

    symbol: str
    price: Decimal
    change: Decimal
    change_percent: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    previous_close: Decimal
    volume: int
    currency: str
    timestamp: datetime
    provider: str


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; ``timestamp`` is the start of the period it covers."""

    timestamp: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    adj_close: Decimal
    volume: int


@runtime_checkable
class MarketDataProvider(Protocol):
    """What the rest of Flint expects from any market-data source."""

    name: str
    history_fetches: int
    """How many symbols' daily history it may be asked for at once (backfills and an import's
    checks ask for many). A vendor over the network: more than one, or each symbol waits for
    the last one's round trip; where each answer costs this process CPU (the simulated market)
    or the vendor allows one request a second (Alpha Vantage's free key), one."""

    async def quote(self, symbol: str, now: datetime | None = None) -> Quote: ...

    async def history(
        self, symbol: str, start: date, end: date, interval: Interval
    ) -> list[Bar]: ...

    async def search(self, query: str, limit: int = 10) -> list[Instrument]: ...

    def instrument(self, symbol: str) -> Instrument | None: ...


# Significant digits kept for a price, and the fewest decimal places ever shown, per kind.
_SIGNIFICANT = {InstrumentType.CRYPTO: 6, InstrumentType.FX: 6}
_DEFAULT_SIGNIFICANT = 4
_MIN_PLACES = 2
_MAX_PLACES = 18
_STEPS = {places: Decimal(1).scaleb(-places) for places in range(_MAX_PLACES + 1)}
_FAST_BELOW = 1e15


def price_places(value: Decimal, kind: InstrumentType) -> int:
    """Decimal places used for ``value``: 2 for prices of 1 and up (4 significant digits
    below that) for equities/ETFs/indices/funds; 6 significant digits, at least 2 places, for
    crypto and FX (EURUSD 5 dp, USDJPY 3 dp, EURGBP 6 dp)."""
    if not value:
        return _MIN_PLACES
    significant = _SIGNIFICANT.get(kind, _DEFAULT_SIGNIFICANT)
    return min(_MAX_PLACES, max(_MIN_PLACES, significant - 1 - value.adjusted()))


def quantize_price(value: float | Decimal, kind: InstrumentType) -> Decimal:
    """Round a price with banker's rounding to the precision :func:`price_places` gives.

    The rule is monotone (a larger input never rounds below a smaller one), so rounding keeps
    ``low <= open, close <= high`` true for a bar that satisfied it before rounding, and a
    positive price stays positive.
    """
    if type(value) is float and 1.0 <= value < _FAST_BELOW and kind not in _SIGNIFICANT:
        # The same Decimal, several times faster (the simulated market makes millions): 3
        # places below 10, else 2, and float formatting rounds the exact binary value half-even
        # as quantize does.
        return Decimal(f"{value:.3f}" if value < 10.0 else f"{value:.2f}")
    exact = value if isinstance(value, Decimal) else Decimal(value)
    step = _STEPS[price_places(exact, kind)]
    rounded = exact.quantize(step, rounding=ROUND_HALF_EVEN)
    # A positive price never rounds to zero; the floor keeps the rule monotone.
    return step if exact > 0 and not rounded else rounded


def quantize_percent(value: Decimal) -> Decimal:
    """Percentages are shown to 2 decimal places."""
    return value.quantize(_STEPS[2], rounding=ROUND_HALF_EVEN)
