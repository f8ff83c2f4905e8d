"""The ledger replayed in `Decimal`: the money figures of a performance answer (totals, each
holding's realised P&L, dividends and fees, the cash and the external flows) come from here,
exactly, never from the float series.

It follows `valuation`'s rules to the letter (the float series and this replay must agree):
buys take ``quantity x price + fee`` from cash, sales add ``quantity x price - fee``,
dividends and interest add, fees and taxes take, deposits add and withdrawals take. Each day
settles as a whole (`valuation.settle`): the day's money coming in pays for its buys, fees and
taxes first, what they still lack beyond the cash is funded from outside (an external flow); a
withdrawal is never funded, it takes exactly the ledger's amount (cash below zero only when the
portfolio allows negative cash). Amounts are in the base currency already (converted at each
entry's day rate, as the valuation gets them). Realised P&L uses average cost with fees in the
cost: a sale realises ``proceeds - fee - average cost x units``.

A window (``since``) limits what is *tallied* (fees, interest, taxes, dividends, realised P&L,
deposits, withdrawals, outside funding: those of days on or after ``since``); positions and
cash are always the state at the close of a day.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import groupby

from flint.portfolio.valuation import Entry, settle

ZERO = Decimal(0)

_MINOR_UNITS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}
"""ISO 4217 currencies whose minor unit is not the cent (every other has two decimals)."""


def in_currency(amount: Decimal, currency: str) -> Decimal:
    """``amount`` at the precision of ``currency`` (ISO 4217 minor units, half to even)."""
    places = _MINOR_UNITS.get(currency.upper(), 2)
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


@dataclass
class Holding:
    """One symbol's figures. ``quantity`` and the costs are the state at the end; ``realized``,
    ``dividends``, ``fees`` and ``taxes`` are tallied over the window."""

    symbol: str
    quantity: Decimal = ZERO
    cost: Decimal = ZERO
    """Average cost of the units held, buy fees included."""
    cost_ex_fees: Decimal = ZERO
    """The same without the buy fees."""
    realized: Decimal = ZERO
    dividends: Decimal = ZERO
    fees: Decimal = ZERO
    """Its trade fees and the fee transactions charged to it."""
    charged_fees: Decimal = ZERO
    """The fee transactions charged to it alone."""
    taxes: Decimal = ZERO
    first_buy: date | None = None
    last_sell: date | None = None
    touched: bool = False
    """Held at some close of the window, or traded in it."""


@dataclass
class Totals:
    """The portfolio's tallies over the window (money in the base currency)."""

    fees: Decimal = ZERO
    """Trade fees (buy and sell) and fee transactions."""
    interest: Decimal = ZERO
    taxes: Decimal = ZERO
    dividends: Decimal = ZERO
    realized: Decimal = ZERO
    deposits: Decimal = ZERO
    withdrawals: Decimal = ZERO
    funded: Decimal = ZERO
    """Buys, fees and taxes the cash could not pay for, funded from outside."""

    @property
    def net_contributions(self) -> Decimal:
        return self.deposits - self.withdrawals + self.funded


@dataclass
class Replay:
    holdings: dict[str, Holding]
    totals: Totals
    flows: dict[date, Decimal]
    """Every day's external flow (deposits less withdrawals plus outside funding)."""
    trades: dict[tuple[date, str], tuple[Decimal, Decimal]] = field(default_factory=dict)
    """Per day and symbol, money into the position (buys with fees) and out of it (sales net
    of fees, dividends, less fees and taxes charged to the symbol)."""
    _cash: list[tuple[date, Decimal]] = field(default_factory=list)
    _units: dict[str, list[tuple[date, Decimal]]] = field(default_factory=dict)

    @property
    def cash_at_end(self) -> Decimal:
        return self._cash[-1][1] if self._cash else ZERO

    def cash(self, day: date) -> Decimal:
        """The cash at the close of ``day``."""
        at = bisect_right(self._cash, day, key=lambda kept: kept[0])
        return self._cash[at - 1][1] if at else ZERO

    def units(self, symbol: str, day: date) -> Decimal:
        """The units of ``symbol`` held at the close of ``day``."""
        history = self._units.get(symbol, [])
        at = bisect_right(history, day, key=lambda kept: kept[0])
        return history[at - 1][1] if at else ZERO

    def flows_between(self, after: date | None, through: date) -> Decimal:
        """The external flows of the days after ``after`` (all, for None) up to ``through``."""
        return sum(
            (f for d, f in self.flows.items() if (after is None or d > after) and d <= through),
            ZERO,
        )


class _Day:
    """The cash and flow tally of the day being replayed (settled as a whole at its end)."""

    def __init__(self) -> None:
        self.inflow = ZERO
        self.spend = ZERO
        self.withdrawn = ZERO
        self.external = ZERO


def replay(entries: Sequence[Entry], end: date, since: date | None = None) -> Replay:
    """Replay ``entries`` (ledger order, dates ascending) through ``end``; tally from ``since``
    (everything, for None)."""
    holdings: dict[str, Holding] = {}
    totals = Totals()
    out = Replay(holdings, totals, {})
    balance = ZERO
    kept = [e for e in entries if e.date <= end]
    for day, todays in groupby(kept, key=lambda e: e.date):
        tally = since is None or day >= since
        today = _Day()
        for entry in todays:
            _apply(out, entry, today, tally)
        funded, balance = settle(balance, today.inflow, today.spend, today.withdrawn)
        if funded:
            today.external += funded
            if tally:
                totals.funded += funded
        if today.external:
            out.flows[day] = today.external
        out._cash.append((day, balance))
    first = since or (kept[0].date if kept else end)
    for symbol, holding in holdings.items():
        history = out._units.get(symbol, [])
        holding.touched = (
            holding.touched
            or out.units(symbol, first) != 0
            or (any(d >= first for d, _ in history))
        )
    return out


def _holding(out: Replay, symbol: str) -> Holding:
    if symbol not in out.holdings:
        out.holdings[symbol] = Holding(symbol)
    return out.holdings[symbol]


def _trade(out: Replay, day: date, symbol: str, into: Decimal, out_of: Decimal) -> None:
    was_in, was_out = out.trades.get((day, symbol), (ZERO, ZERO))
    out.trades[(day, symbol)] = (was_in + into, was_out + out_of)


def _apply(out: Replay, entry: Entry, today: _Day, tally: bool) -> None:
    totals = out.totals
    amount = entry.amount or ZERO
    if entry.type in ("buy", "sell", "split"):
        assert entry.symbol is not None
        assert entry.quantity is not None
        h = _holding(out, entry.symbol)
        if entry.type == "buy":
            assert entry.price is not None
            spend = entry.quantity * entry.price + entry.fee
            h.quantity += entry.quantity
            h.cost += spend
            h.cost_ex_fees += entry.quantity * entry.price
            h.first_buy = h.first_buy or entry.date
            today.spend += spend
            _trade(out, entry.date, h.symbol, spend, ZERO)
        elif entry.type == "sell":
            assert entry.price is not None
            proceeds = entry.quantity * entry.price - entry.fee
            units = h.quantity  # the cost released as `valuation` works it out, digit for digit
            released = h.cost * entry.quantity / units if units else ZERO
            released_ex = h.cost_ex_fees * entry.quantity / units if units else ZERO
            h.quantity -= entry.quantity
            h.cost -= released
            h.cost_ex_fees -= released_ex
            h.last_sell = entry.date
            today.inflow += proceeds
            _trade(out, entry.date, h.symbol, ZERO, proceeds)
            if tally:
                h.realized += proceeds - released
                totals.realized += proceeds - released
        else:
            h.quantity *= entry.quantity
        if tally:
            h.touched = True
            if entry.type != "split":
                h.fees += entry.fee
                totals.fees += entry.fee
        out._units.setdefault(h.symbol, []).append((entry.date, h.quantity))
        return
    charged = entry.symbol is not None and entry.type in ("dividend", "fee", "tax")
    to = _holding(out, entry.symbol) if charged and entry.symbol else None
    if entry.type == "dividend":
        today.inflow += amount
        if tally:
            totals.dividends += amount
    elif entry.type == "interest":
        today.inflow += amount
        if tally:
            totals.interest += amount
    elif entry.type in ("fee", "tax"):
        today.spend += amount
        if tally:
            if entry.type == "fee":
                totals.fees += amount
            else:
                totals.taxes += amount
    elif entry.type == "deposit":
        today.inflow += amount
        today.external += amount
        if tally:
            totals.deposits += amount
    elif entry.type == "withdrawal":
        today.withdrawn += amount
        today.external -= amount
        if tally:
            totals.withdrawals += amount
    if to is not None:
        signed = amount if entry.type == "dividend" else -amount
        _trade(out, entry.date, to.symbol, ZERO, signed)
        if tally:
            to.touched = True
            if entry.type == "dividend":
                to.dividends += amount
            elif entry.type == "fee":
                to.fees += amount
                to.charged_fees += amount
            else:
                to.taxes += amount


def value_at(run: Replay, day: date, prices: Iterable[tuple[str, float]], currency: str) -> Decimal:
    """The portfolio's value at the close of ``day``: each symbol's units (from the ledger)
    times the close used that day (``prices``: symbol and close, in the base currency), plus
    the cash, at the currency's precision."""
    worth = run.cash(day)
    for symbol, close in prices:
        units = run.units(symbol, day)
        if units:
            worth += units * Decimal(repr(close))
    return in_currency(worth, currency)
