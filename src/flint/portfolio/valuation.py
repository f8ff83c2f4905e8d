"""A portfolio's daily value and external flows, from its ledger and daily closes.

Conventions (the performance module's inputs; see `flint.portfolio.metrics` for the math):

* Calendar: every day from the first transaction to ``end`` on which any of the portfolio's
  symbols has a close (crypto trades daily, so a portfolio holding it is valued every day; a
  custom asset's closes are the days its owner gave a price for), plus the transaction days
  themselves, plus ``end`` itself with ``through_end`` (a portfolio holding a custom asset:
  its calendar is its own, so its series ends on the day asked for). A ledger of cash alone
  (``every_day``) is valued on every calendar day. Prices carry forward between closes;
  before a symbol's first close its last purchase price stands in.
* Cash: the portfolio has a cash balance. Buys take ``quantity x price + fee`` from it, sales
  add ``quantity x price - fee``, dividends and interest add, fees and taxes take, deposits add and
  withdrawals take. Deposits and withdrawals are external flows.
* A buy (or fee) the cash cannot pay for is funded from outside: the shortfall is an external
  flow on that day (so a portfolio of lots alone has each purchase as a deposit). Within a day,
  the money coming in (deposits, sales, income) pays for the day's buys and fees first
  (`settle`). A withdrawal is never funded that way: its flow is exactly the ledger's amount.
  Writes refuse a withdrawal the cash cannot pay (`flint.portfolio.cash`) unless the portfolio
  allows negative cash; then, and only then, cash goes below zero.
* Value of a day = sum of quantity x close (in the base currency) + cash, at the end of the day;
  flows happen at the start of their day. Cash and flows are also kept exact (`Decimal`, from
  the ledger); the float arrays are what the vectorised metrics read.
* Splits multiply the quantity held (a ratio of 4 turns 10 shares into 40) and leave cost.
* Realised P&L uses average cost: a sale realises ``proceeds - fee - average cost x units``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


DayArray = npt.NDArray[np.datetime64]


@dataclass(frozen=True)
class Series:
    """A symbol's daily closes in the base currency: ``days`` (``datetime64[D]``, ascending,
    unique) and the close of each."""

    days: DayArray
    values: FloatArray

    @classmethod
    def of(cls, closes: Mapping[date, float]) -> Series:
        days = sorted(closes)
        return cls(
            np.array(days, dtype="datetime64[D]"),
            np.array([closes[d] for d in days], dtype=np.float64),
        )


EMPTY = Series(np.zeros(0, dtype="datetime64[D]"), np.zeros(0))


N = TypeVar("N", float, Decimal)


def settle(balance: N, inflow: N, spend: N, withdrawn: N) -> tuple[N, N]:
    """One day of the cash account: what is funded from outside, and the balance at its end.
    Buys and fees beyond the cash held (when it is positive) and the day's inflow are funded;
    withdrawals are not (a balance below zero stays: only allowed negative cash makes one)."""
    zero = balance - balance
    funded = max(zero, spend - inflow - max(balance, zero))
    return funded, balance + inflow - spend + funded - withdrawn


@dataclass(frozen=True)
class Entry:
    date: date
    type: str
    symbol: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    fee: Decimal = Decimal(0)
    amount: Decimal | None = None


@dataclass(frozen=True)
class Position:
    symbol: str
    quantity: Decimal
    cost: Decimal
    """Total cost of the units still held (average cost)."""


@dataclass
class Valuation:
    dates: list[date]
    values: FloatArray
    flows: FloatArray
    cash: FloatArray
    quantities: FloatArray
    """Days x symbols, units held at the end of each day."""
    prices: FloatArray
    """Days x symbols, the close used (base currency)."""
    symbols: list[str]
    exact_cash: list[Decimal] = field(default_factory=list)
    """Each day's cash, exact."""
    exact_flows: list[Decimal] = field(default_factory=list)
    """Each day's external flow, exact."""
    positions: dict[str, Position] = field(default_factory=dict)
    realized: Decimal = Decimal(0)
    dividends: Decimal = Decimal(0)
    interest: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)


def _price_matrix(
    calendar: DayArray,
    symbols: Sequence[str],
    closes: Mapping[str, Series],
    fallback: Mapping[str, float],
) -> FloatArray:
    """Days x symbols: the last close on or before each day, else the fallback."""
    prices = np.empty((len(calendar), len(symbols)), dtype=np.float64)
    for column, symbol in enumerate(symbols):
        series = closes.get(symbol, EMPTY)
        if not len(series.days):
            prices[:, column] = fallback.get(symbol, 0.0)
            continue
        at = np.searchsorted(series.days, calendar, side="right") - 1
        prices[:, column] = np.where(
            at >= 0, series.values[np.clip(at, 0, None)], fallback.get(symbol, 0.0)
        )
    return prices


def _calendar(
    entries: Sequence[Entry],
    closes: Mapping[str, Series],
    symbols: Sequence[str],
    end: date,
    *,
    every_day: bool,
    through_end: bool,
) -> DayArray:
    first = np.datetime64(min(e.date for e in entries), "D")
    last = np.datetime64(end, "D")
    if every_day:
        return np.arange(first, last + 1, dtype="datetime64[D]")
    if last < first:
        return np.zeros(0, dtype="datetime64[D]")
    # The union as marks on the days from first to last (no sort of every symbol's days
    # together: 500 symbols of a decade are 1.25 million days, of about 3,650 distinct).
    origin = first.astype(np.int64)
    marked = np.zeros(int(last.astype(np.int64) - origin) + 1, dtype=bool)
    ledger = np.array([e.date for e in entries if e.date <= end], dtype="datetime64[D]")
    marked[ledger.astype(np.int64) - origin] = True
    if through_end:
        marked[-1] = True
    for name in symbols:
        days = closes.get(name, EMPTY).days
        lo = np.searchsorted(days, first, side="left")
        hi = np.searchsorted(days, last, side="right")
        marked[days[lo:hi].astype(np.int64) - origin] = True
    return (np.flatnonzero(marked) + origin).astype("datetime64[D]")


def _add(by_day: dict[int, Decimal], day: int, amount: Decimal) -> None:
    by_day[day] = by_day.get(day, Decimal(0)) + amount


def _carried(marks: FloatArray) -> FloatArray:
    """Each column's last mark (not NaN) carried forward over the days after it, 0 before its
    first: the units held each day from the days they changed on. Writing each trade's units
    over every later day instead (a column slice per trade) took most of a 100,000-row
    ledger's valuation."""
    n, m = marks.shape
    rows = np.where(np.isnan(marks), 0, np.arange(n)[:, None])
    np.maximum.accumulate(rows, axis=0, out=rows)
    return np.nan_to_num(marks[rows, np.arange(m)], nan=0.0)


def value(
    entries: Sequence[Entry],
    closes: Mapping[str, Series] | Mapping[str, Mapping[date, float]],
    end: date,
    *,
    every_day: bool = False,
    through_end: bool = False,
) -> Valuation:
    """Replay ``entries`` (in ledger order) against ``closes`` (per symbol, in the base
    currency: a `Series`, or a mapping of day to close) up to ``end`` (the calendar's options:
    see the module docstring)."""
    if not entries:
        empty = np.zeros(0)
        return Valuation([], empty, empty, empty, np.zeros((0, 0)), np.zeros((0, 0)), [])
    series = {
        name: given if isinstance(given, Series) else Series.of(given)
        for name, given in closes.items()
    }
    symbols = sorted({e.symbol for e in entries if e.symbol is not None})
    column = {symbol: i for i, symbol in enumerate(symbols)}
    calendar = _calendar(
        entries, series, symbols, end, every_day=every_day, through_end=through_end
    )
    dates: list[date] = calendar.astype(object).tolist()
    index = {d: i for i, d in enumerate(dates)}
    n, m = len(dates), len(symbols)

    marks = np.full((n, m), np.nan)  # units held at the end of a day they changed on
    inflow: dict[int, Decimal] = {}
    spend: dict[int, Decimal] = {}
    withdrawn: dict[int, Decimal] = {}
    external: dict[int, Decimal] = {}
    held: dict[str, Decimal] = {}
    cost: dict[str, Decimal] = {}
    last_price: dict[str, float] = {}
    realized = dividends = interest = fees = Decimal(0)
    for entry in entries:
        if entry.date > end:
            continue
        day = index[entry.date]
        if entry.type in ("buy", "sell", "split"):
            assert entry.symbol is not None
            assert entry.quantity is not None
            symbol = entry.symbol
            units = held.get(symbol, Decimal(0))
            basis = cost.get(symbol, Decimal(0))
            if entry.type == "buy":
                assert entry.price is not None
                cost_of = entry.quantity * entry.price + entry.fee
                held[symbol], cost[symbol] = units + entry.quantity, basis + cost_of
                _add(spend, day, cost_of)
                last_price.setdefault(symbol, float(entry.price))
                fees += entry.fee
            elif entry.type == "sell":
                assert entry.price is not None
                proceeds = entry.quantity * entry.price - entry.fee
                released = basis * entry.quantity / units if units else Decimal(0)
                realized += proceeds - released
                held[symbol], cost[symbol] = units - entry.quantity, basis - released
                _add(inflow, day, proceeds)
                fees += entry.fee
            else:
                held[symbol] = units * entry.quantity
            marks[day, column[symbol]] = float(held[symbol])
            continue
        amount = entry.amount or Decimal(0)
        if entry.type == "dividend":
            dividends += amount
            _add(inflow, day, amount)
        elif entry.type == "interest":
            interest += amount
            _add(inflow, day, amount)
        elif entry.type == "fee":
            fees += amount
            _add(spend, day, amount)
        elif entry.type == "tax":
            _add(spend, day, amount)
        elif entry.type == "deposit":
            _add(inflow, day, amount)
            _add(external, day, amount)
        elif entry.type == "withdrawal":
            _add(withdrawn, day, amount)
            _add(external, day, -amount)

    exact_cash: list[Decimal] = []
    exact_flows: list[Decimal] = []
    balance = zero = Decimal(0)
    for day in range(n):
        funded, balance = settle(
            balance, inflow.get(day, zero), spend.get(day, zero), withdrawn.get(day, zero)
        )
        exact_cash.append(balance)
        exact_flows.append(external.get(day, zero) + funded)
    cash = np.array(exact_cash, dtype=np.float64)
    flows = np.array(exact_flows, dtype=np.float64)

    quantities = _carried(marks)
    prices = _price_matrix(calendar, symbols, series, last_price)
    values = (quantities * prices).sum(axis=1) + cash
    positions = {
        symbol: Position(symbol, units, cost.get(symbol, Decimal(0)))
        for symbol, units in held.items()
        if units != 0
    }
    return Valuation(
        dates,
        values,
        flows,
        cash,
        quantities,
        prices,
        symbols,
        exact_cash,
        exact_flows,
        positions,
        realized,
        dividends,
        interest,
        fees,
    )
