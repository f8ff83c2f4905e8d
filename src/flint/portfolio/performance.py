"""What a portfolio's performance is computed from: the ledger and the closes, in the base
currency (the figures themselves: `figures`; where and when they are computed: `computing`).

Prices are the stored daily closes (`prices`: read for all symbols at once and kept in memory
until a write touches them). Each listed symbol needs every closed session from its first
transaction on; when storage lacks some, `load` answers `Lacking`, the caller fetches them
(`MarketData.backfill_windows`) and loads again, valuing with what there is if a provider has
none. A symbol quoted in another currency is converted with the daily closes of its FX pairs
(`currencies`: ``EURUSD=X``, the inverse pair, or across the dollar); pence (``GBp``) are
pounds / 100. Every amount of the ledger (prices, fees, cash) is in its transaction's
``currency`` and is converted at the rate of its own day. A custom asset (``MY:HOUSE``) is
priced by its owner and keeps its own calendar: its closes are the prices given, on the days
given (weekends and holidays included), in the asset's own currency (in another currency than
the base, also on its rates' sessions, as its value moves with them), and the valuation days
of a portfolio are the union of its listed symbols' sessions and its custom assets' price days
(`valuation`). ``totalReturn`` is the gain (final value less net external flows) over the
money put in (the positive flows).

Each symbol's last price is also worked out exactly (`Inputs.last_prices`: the stored close
times the stored rates, as `Decimal`), for the money figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import ValidationFailed
from flint.kit.money import as_price, exact
from flint.kit.time import utcnow
from flint.market.api import Instrument, MarketData, calendar_for, closed_days
from flint.portfolio import currencies, prices
from flint.portfolio.assets.service import closes as custom_closes
from flint.portfolio.dates import date_problem
from flint.portfolio.figure_schemas import GroupBy
from flint.portfolio.models import Portfolio
from flint.portfolio.pages import LedgerRow
from flint.portfolio.symbols import Instruments, SymbolBook
from flint.portfolio.symbols import book as symbol_book
from flint.portfolio.valuation import EMPTY, Entry, Series


@dataclass(frozen=True)
class Window:
    start: date | None
    end: date
    benchmark: str
    risk_free: float
    group_by: GroupBy = "symbol"
    """How `allocationGroups` groups the positions."""


@dataclass(frozen=True)
class Lacking:
    """Storage lacks closed daily bars some listed symbols need: fetch these windows (per
    symbol, inclusive dates) with `MarketData.backfill_windows`, then load again. An answer,
    not an error: it crosses from a performance process to the API as a value. ``of`` is how
    many symbols were checked (the progress of a backfill is the share of them stored)."""

    windows: dict[str, tuple[date, date]]
    of: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    """The write token of each symbol in ``windows`` as its closes were read ("" for none
    written yet): once every one has moved, storage has been written for all of them since
    (`computing.PerformanceService` then computes again without waiting)."""

    @property
    def progress(self) -> float:
        """The share of the checked symbols whose closes are all stored (0 to 1)."""
        return 1.0 - len(self.windows) / self.of if self.of else 0.0

    @property
    def bars(self) -> int:
        """About how many daily bars the missing windows hold (five a week)."""
        return sum(((end - start).days + 1) * 5 // 7 + 1 for start, end in self.windows.values())


def check_window(market: Instruments, window: Window) -> None:
    """Refuse a window that cannot be computed (before anything is read or queued): an
    unknown benchmark, or a day outside 1900-01-01..today (`dates`)."""
    today = utcnow().date()
    for where, day in (("query.start", window.start), ("query.end", window.end)):
        wrong = date_problem(day, today) if day is not None else None
        if wrong is not None:
            raise ValidationFailed.at(where, f"{where.removeprefix('query.')}: {wrong}.")
    if market.instrument(window.benchmark) is None:
        raise ValidationFailed.at("query.benchmark", f"Unknown benchmark {window.benchmark}.")
    if window.start is not None and window.start > window.end:
        raise ValidationFailed.at("query.start", "start must not be after end.")


def _own_days(given: Series, rate_days: np.ndarray[Any, Any]) -> Series:
    """A custom asset's closes: the prices given, on the days given; in another currency, also
    on its rates' sessions after its first price (the last given price carried forward), since
    its value in the base currency moves with the rates."""
    if not len(given.days) or not len(rate_days):
        return given
    days = np.union1d(given.days, rate_days[rate_days > given.days[0]])
    at = np.searchsorted(given.days, days, side="right") - 1
    return Series(days, given.values[at])


@dataclass(frozen=True)
class Inputs:
    """What the figures are computed from: the ledger and the closes in the base currency
    (purchase prices and cash amounts converted at the rate of their own day)."""

    entries: list[Entry]
    priced: dict[str, Series]
    benchmark: Series
    book: SymbolBook
    quoted: dict[str, Series] = field(default_factory=dict)
    """Each symbol's prices on its own days, in the base currency: a custom asset's given prices
    (weekends included), a listed symbol's closes (Ghostfolio's ROAI, `flint.portfolio.roai`).
    Since custom assets are valued on their own days, the same series as `priced`."""
    last_prices: dict[str, Decimal] = field(default_factory=dict)
    """Each symbol's last close up to the window's end in the base currency, exact."""
    lacking: Lacking | None = None
    """What storage lacks, when these inputs are what it holds meanwhile (`load`'s
    ``partial_above``)."""


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
) -> tuple[dict[str, Series], Lacking | None]:
    """The stored closes of listed symbols over their windows; with ``complete``, also `Lacking`
    naming the symbols whose closed sessions are not all stored (a bar stored while its
    session was open counts as missing; theirs are left out of the closes)."""
    if not windows:
        return {}, None
    first = min(start for start, _ in windows.values())
    sessions = _Sessions(first, max(end for _, end in windows.values()))
    read = await prices.read_closes(session, list(windows), sessions.first)
    loaded = read.closes
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
        if held is not None:
            held = prices.between(held, end)
            out[symbol] = Series(held.days, held.closes)
    if not missing:
        return out, None
    return out, Lacking(missing, len(windows), {s: read.tokens.get(s, "") for s in missing})


async def load(
    session: AsyncSession,
    market: Instruments,
    portfolio: Portfolio,
    ledger: Sequence[LedgerRow],
    window: Window,
    *,
    complete: bool = True,
    partial_above: int | None = None,
) -> Inputs | Lacking:
    """The inputs from what is stored, reading only; with ``complete``, `Lacking` when storage
    lacks closes (without, what there is is valued), or, when it lacks more than
    ``partial_above`` closes, the inputs from what is stored with their `Inputs.lacking`."""
    base = portfolio.base_currency
    first = min((e.date for e in ledger), default=window.end)
    symbols = sorted({e.symbol for e in ledger if e.symbol})
    book = await symbol_book(session, market, portfolio.user_id, symbols)
    quote = {s: book.currency(s) for s in symbols}
    benchmarked = book.currency(window.benchmark)  # a listed symbol (`check_window`)
    fx = currencies.pairs(
        market, [*quote.values(), *(e.currency for e in ledger), benchmarked], base
    )
    bought: dict[str, date] = {}  # a symbol no longer listed has no closes: its cost stands in
    for entry in ledger:
        if entry.symbol and book.listed(entry.symbol):
            bought[entry.symbol] = min(entry.date, bought.get(entry.symbol, entry.date))
    windows = {symbol: (day, window.end) for symbol, day in bought.items() if day <= window.end}
    for symbol in [window.benchmark, *sorted(fx)]:
        windows[symbol] = (first, window.end)
    closes, lacking = await _stored_closes(session, market, windows, complete=complete)
    if lacking is not None and (partial_above is None or lacking.bars <= partial_above):
        return lacking
    rates = currencies.Rates(market, base, {pair: closes.get(pair, EMPTY) for pair in fx})
    given = await custom_closes(session, book.custom.values(), window.end)
    for symbol, series in given.items():
        closes[symbol] = _own_days(Series.of(series), rates.days(quote.get(symbol, base)))
    priced = {s: rates.series(quote[s], closes.get(s, EMPTY)) for s in symbols}

    def last_price(symbol: str) -> Decimal | None:
        series = closes.get(symbol, EMPTY)
        if not len(series.days):
            return None
        price = exact(float(series.values[-1]))
        return as_price(price * rates.exact_on(quote[symbol], series.days[-1]))

    last_prices = {s: p for s in symbols if (p := last_price(s)) is not None}

    def to_base(entry: LedgerRow, amount: Decimal | None) -> Decimal | None:
        """Every amount is in the entry's own currency, converted at its day's rate."""
        return None if amount is None else rates.convert(amount, entry.currency, entry.date)

    entries = [
        Entry(
            e.date,
            e.type,
            e.symbol,
            e.quantity,
            to_base(e, e.price),
            to_base(e, e.fee) or Decimal(0),
            to_base(e, e.amount),
        )
        for e in ledger
    ]
    # in the base currency, as the portfolio's own values: SPY for a portfolio in euros is what
    # its euros would have earned in SPY, currency moves included, as its own holdings' are
    benchmark = rates.series(benchmarked, closes.get(window.benchmark, EMPTY))
    return Inputs(
        entries, priced, benchmark, book, quoted=priced, last_prices=last_prices, lacking=lacking
    )


async def inputs(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    ledger: Sequence[LedgerRow],
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
