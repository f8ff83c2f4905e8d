"""What a portfolio's performance is computed from: the ledger and the closes, in the base
currency (the figures themselves: `figures`; where and when they are computed: `computing`).

Prices are the stored daily closes (`prices`: read for all symbols at once and kept in memory
until a write touches them). Each listed symbol needs every closed session from its first
transaction on; when storage lacks some, `load` answers `Lacking`, the caller fetches them
(`MarketData.backfill_windows`) and loads again, valuing with what there is if a provider has
none. A symbol quoted in another currency is converted with the daily close of
its FX pair (``EURUSD=X``, or the inverse pair); pence (``GBp``) are pounds / 100. Purchase
prices and cash amounts are converted at the rate of their own day. A custom asset
(``MY:HOUSE``) is priced by its owner: each NYSE session from its first given price takes the
last price given on or before it, in the asset's own currency. ``totalReturn`` is the
gain (final value less net external flows) over the money put in (the positive flows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import ValidationFailed
from flint.kit.calendar import XNYS, trading_days
from flint.kit.time import utcnow
from flint.market.api import Instrument, MarketData, calendar_for, closed_days
from flint.portfolio import prices
from flint.portfolio.assets.service import closes as custom_closes
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.portfolio.symbols import Instruments, SymbolBook
from flint.portfolio.symbols import book as symbol_book
from flint.portfolio.valuation import EMPTY, Entry, Series


@dataclass(frozen=True)
class Window:
    start: date | None
    end: date
    benchmark: str
    risk_free: float


@dataclass(frozen=True)
class Lacking:
    """Storage lacks closed daily bars some listed symbols need: fetch these windows (per
    symbol, inclusive dates) with `MarketData.backfill_windows`, then load again. An answer,
    not an error: it crosses from a performance process to the API as a value. ``of`` is how
    many symbols were checked (the progress of a backfill is the share of them stored)."""

    windows: dict[str, tuple[date, date]]
    of: int = 0

    @property
    def progress(self) -> float:
        """The share of the checked symbols whose closes are all stored (0 to 1)."""
        return 1.0 - len(self.windows) / self.of if self.of else 0.0

    @property
    def bars(self) -> int:
        """About how many daily bars the missing windows hold (five a week)."""
        return sum(((end - start).days + 1) * 5 // 7 + 1 for start, end in self.windows.values())


def check_window(market: Instruments, window: Window) -> None:
    """Refuse a window that cannot be computed (before anything is read)."""
    if market.instrument(window.benchmark) is None:
        raise ValidationFailed.at("query.benchmark", f"Unknown benchmark {window.benchmark}.")
    if window.start is not None and window.start > window.end:
        raise ValidationFailed.at("query.start", "start must not be after end.")


def _pair(market: Instruments, currency: str, base: str) -> tuple[str, bool] | None:
    direct = f"{currency}{base}=X"
    if market.instrument(direct) is not None:
        return direct, False
    inverse = f"{base}{currency}=X"
    if market.instrument(inverse) is not None:
        return inverse, True
    return None


def _on_trading_days(given: Mapping[date, float], end: date) -> Series:
    """A custom asset's prices as daily closes on the NYSE calendar: each session from the first
    given price to ``end`` takes the last price given on or before it (carried forward)."""
    if not given:
        return EMPTY
    stated = Series.of(given)
    days = np.array(trading_days(min(given), end, XNYS), dtype="datetime64[D]")
    at = np.searchsorted(stated.days, days, side="right") - 1
    return Series(days, stated.values[at])


class _Rates:
    """One FX pair's daily closes: a day's rate is the last close on or before it (the first
    close for days before any); 1 without closes."""

    def __init__(self, series: Series, inverse: bool) -> None:
        self.series = series
        self.inverse = inverse

    def at(self, days: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        if not len(self.series.days):
            return np.ones(len(days))
        index = np.searchsorted(self.series.days, days, side="right") - 1
        rates = self.series.values[np.clip(index, 0, None)]
        return 1.0 / rates if self.inverse else rates

    def on(self, day: date) -> float:
        return float(self.at(np.array([day], dtype="datetime64[D]"))[0])


@dataclass(frozen=True)
class Inputs:
    """What the figures are computed from: the ledger and the closes in the base currency
    (purchase prices and cash amounts converted at the rate of their own day)."""

    entries: list[Entry]
    priced: dict[str, Series]
    benchmark: Series
    book: SymbolBook


LEAD_IN = timedelta(days=10)
"""How far before a window the session that values its first day is looked for (the longest
run of days without a session, holidays included, is shorter)."""


class _Sessions:
    """The closed sessions of each calendar over [first, end], worked out once per calendar
    and sliced per symbol: the UTC dates of the daily bars that exist and will not change
    (under Flint's conventions a daily bar's UTC date is its trading date)."""

    def __init__(self, first: date, end: date) -> None:
        self.first, self.end = first - LEAD_IN, end
        self.now = utcnow()
        self.days: dict[str, np.ndarray[Any, Any]] = {}

    def _all(self, calendar: str) -> np.ndarray[Any, Any]:
        if calendar not in self.days:
            days = closed_days(calendar, self.first, self.end, self.now)
            self.days[calendar] = np.array(days, dtype="datetime64[D]")
        return self.days[calendar]

    def expected(self, instrument: Instrument, start: date, end: date) -> np.ndarray[Any, Any]:
        """The closed sessions in [start, end], and the one before ``start`` when ``start`` is
        not a closed session itself (a weekend, or today before the close): a symbol bought
        then is valued at that earlier close until its first session closes."""
        days = self._all(calendar_for(instrument.type))
        first = np.datetime64(start, "D")
        lo = int(np.searchsorted(days, first, side="left"))
        hi = int(np.searchsorted(days, np.datetime64(end, "D"), side="right"))
        if lo > 0 and (lo == len(days) or days[lo] != first):
            lo -= 1
        return days[lo:hi]


async def _stored_closes(
    session: AsyncSession,
    market: Instruments,
    windows: Mapping[str, tuple[date, date]],
    *,
    complete: bool,
) -> dict[str, Series] | Lacking:
    """The stored closes of listed symbols over their windows. With ``complete``, `Lacking`
    names the symbols whose closed sessions are not all stored (a bar stored while its session
    was open counts as missing)."""
    if not windows:
        return {}
    first = min(start for start, _ in windows.values())
    sessions = _Sessions(first, max(end for _, end in windows.values()))
    loaded = await prices.daily_closes(session, list(windows), sessions.first)
    missing: dict[str, tuple[date, date]] = {}
    out: dict[str, Series] = {}
    for symbol, (start, end) in windows.items():
        held = loaded.get(symbol)
        if complete:
            instrument = market.instrument(symbol)
            assert instrument is not None
            expected = sessions.expected(instrument, start, end)
            stored = held.days if held is not None else EMPTY.days
            if held is not None and len(held.provisional):
                stored = np.setdiff1d(stored, held.provisional)
            if not np.isin(expected, stored, assume_unique=True).all():
                lead = expected[0].astype(date) if len(expected) else start
                missing[symbol] = (min(lead, start), end)
                continue
        if held is not None:
            held = prices.between(held, end)
            out[symbol] = Series(held.days, held.closes)
    return Lacking(missing, len(windows)) if missing else out


async def load(
    session: AsyncSession,
    market: Instruments,
    portfolio: Portfolio,
    ledger: Sequence[PortfolioTransaction],
    window: Window,
    *,
    complete: bool = True,
) -> Inputs | Lacking:
    """The inputs from what is stored, reading only; with ``complete``, `Lacking` when storage
    lacks closes (without, what there is is valued)."""
    base = portfolio.base_currency
    first = min((e.date for e in ledger), default=window.end)
    symbols = sorted({e.symbol for e in ledger if e.symbol})
    book = await symbol_book(session, market, portfolio.user_id, symbols)
    quote = {s: book.currency(s) for s in symbols}
    pairs = {
        currency: _pair(market, currency, base)
        for currency, _ in quote.values()
        if currency != base
    }
    bought: dict[str, date] = {}  # a symbol no longer listed has no closes: its cost stands in
    for entry in ledger:
        if entry.symbol and book.listed(entry.symbol):
            bought[entry.symbol] = min(entry.date, bought.get(entry.symbol, entry.date))
    windows = {symbol: (day, window.end) for symbol, day in bought.items() if day <= window.end}
    for symbol in [window.benchmark, *(p[0] for p in pairs.values() if p)]:
        windows[symbol] = (first, window.end)
    closes = await _stored_closes(session, market, windows, complete=complete)
    if isinstance(closes, Lacking):
        return closes
    given = await custom_closes(session, book.custom.values(), window.end)
    closes.update(
        {symbol: _on_trading_days(series, window.end) for symbol, series in given.items()}
    )
    rates = {
        currency: _Rates(closes.get(pair[0], EMPTY), pair[1])
        for currency, pair in pairs.items()
        if pair is not None
    }

    def convert(symbol: str, series: Series) -> Series:
        currency, factor = quote[symbol]
        fx = rates.get(currency)
        if fx is None:
            return series if factor == 1.0 else Series(series.days, series.values * factor)
        return Series(series.days, series.values * factor * fx.at(series.days))

    priced = {s: convert(s, closes.get(s, EMPTY)) for s in symbols}

    def to_base(entry: PortfolioTransaction, amount: Decimal | None) -> Decimal | None:
        if amount is None or entry.symbol is None:
            return amount
        currency, factor = quote[entry.symbol]
        fx = rates.get(currency)
        if fx is None and factor == 1.0:
            return amount
        rate = fx.on(entry.date) if fx is not None else 1.0
        return amount * Decimal(str(factor * rate))

    entries = [
        Entry(
            e.date,
            e.type,
            e.symbol,
            e.quantity,
            to_base(e, e.price),
            to_base(e, e.fee) or Decimal(0),
            to_base(e, e.amount) if e.type == "dividend" else e.amount,
        )
        for e in ledger
    ]
    return Inputs(entries, priced, closes.get(window.benchmark, EMPTY), book)


async def inputs(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    ledger: Sequence[PortfolioTransaction],
    window: Window,
) -> Inputs:
    """The inputs, in one session: closes storage lacks are fetched (and stored) first."""
    check_window(market, window)
    got = await load(session, market, portfolio, ledger, window)
    if isinstance(got, Lacking):
        await market.backfill_windows(session, got.windows)
        # What the providers could not give stays missing: value with what there is.
        got = await load(session, market, portfolio, ledger, window, complete=False)
    assert isinstance(got, Inputs)  # only a complete load can lack anything
    return got
