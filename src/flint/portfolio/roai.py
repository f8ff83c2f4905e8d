"""Ghostfolio's ROAI ("return on average investment"), the `roai` block of the performance, for
users coming from Ghostfolio: the figures its ROAI calculator computes
(``apps/api/src/app/portfolio/calculator/roai/portfolio-calculator.ts`` and the base
``portfolio-calculator.ts``, at ghostfolio@c542997), reproduced step by step in Decimal.

* Cost basis ("investment") WITHOUT fees: a buy adds quantity x price, a sale removes cost in
  proportion to the units sold.
* Gross performance = value - investment + realised gains (sale price - the average price of
  the buys since the position was last closed, x units); net = gross - the fees of the symbol's
  activities. Dividends are reported apart; a fee transaction naming no bought symbol counts in
  the fees and nowhere else.
* The percentage divides by the time-weighted investment: the investment held before each
  buy or sale, or each chart day, weighted by the days since the previous one, over the days
  the position had a value (two activities on one day are ``Number.EPSILON`` days apart).
* Ghostfolio works on "chart days" (every day up to a year, thinned to about 365 points on
  longer histories, plus the activity days, the range boundaries and each year's first and last
  day); the per-range percentages average the investment over them, so they are kept here.
* Date ranges end at ``asOf``; 1d, wtd, mtd, ytd, 1y and 5y start at the end of the day before
  the range (never before the day before the first activity), max at 0.

What differs from Ghostfolio: amounts are in the base currency at the rate of their own day
(Ghostfolio's "with currency effect" figures; the plain ones use today's rate); a day without
a price takes the last price before it, before any the price of the last buy or sale
(Ghostfolio's mock-priced tests take the asOf price there; no figure its tests assert depends on
it); a split multiplies the units held. Prices are the symbol's own days: a custom asset's
given prices, weekends included, and a listed symbol's closes.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from flint.portfolio.roai_schemas import PERIOD_KEYS, Roai, RoaiPeriod, RoaiPosition
from flint.portfolio.valuation import Entry, Series

ZERO = Decimal(0)
EPSILON = Decimal(2) ** -52
"""JavaScript's ``Number.EPSILON``: Ghostfolio's days between two activities of one day."""
MAX_CHART_ITEMS = 365
"""Ghostfolio's default ``MAX_CHART_ITEMS``."""


def _years_before(day: date, years: int) -> date:
    """date-fns ``subYears``: 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def range_starts(as_of: date) -> dict[str, date | None]:
    """Ghostfolio's ``getIntervalFromDateRange`` start of each range, under Flint's keys
    (``None``: from the beginning)."""
    return {
        "1D": as_of - timedelta(days=1),
        "WTD": as_of - timedelta(days=as_of.weekday() + 1),
        "MTD": as_of.replace(day=1) - timedelta(days=1),
        "YTD": date(as_of.year, 1, 1) - timedelta(days=1),
        "1Y": _years_before(as_of, 1),
        "5Y": _years_before(as_of, 5),
        "MAX": None,
    }


def _every(first: date, last: date, step: int) -> list[date]:
    return [first + timedelta(days=n) for n in range(0, (last - first).days + 1, step)]


def chart_days(activity_days: set[date], start: date, end: date) -> list[date]:
    """Ghostfolio's ``getChartDateMap``: the days its chart (and the ranges) are computed on."""
    in_market = (end - start).days
    step = int(in_market / min(in_market, MAX_CHART_ITEMS) + 0.5) if in_market > 0 else 1
    days = {d for d in activity_days if d <= end}
    days.update(_every(start, end, step))
    if step > 1:
        days.update(_every(end - timedelta(days=90), end, 3))
        days.update(_every(end - timedelta(days=30), end, 1))
    days.add(end)
    for first in range_starts(end).values():
        if first is not None and start <= first <= end:
            days.add(first)
    for year in range(start.year, end.year + 1):
        days.update(d for d in (date(year, 1, 1), date(year, 12, 31)) if start <= d <= end)
    return sorted(days)


@dataclass(frozen=True)
class _Order:
    day: date
    kind: str
    """buy, sell, dividend, fee; ``chart`` for a chart day without activity; start, end."""
    quantity: Decimal = ZERO
    price: Decimal = ZERO
    fee: Decimal = ZERO


class _Prices:
    """A symbol's price on a day: the last known on or before it, else the price of its last
    buy or sale on or before it, else 0."""

    def __init__(self, known: Series, trades: Sequence[_Order]) -> None:
        self.known = known
        self.trade_days = [o.day for o in trades]
        self.trade_prices = [o.price for o in trades]
        self.seen: dict[date, Decimal] = {}

    def at(self, day: date) -> Decimal:
        price = self.seen.get(day)
        if price is None:
            i = int(np.searchsorted(self.known.days, np.datetime64(day, "D"), side="right"))
            if i:
                price = Decimal(repr(float(self.known.values[i - 1])))
            else:
                j = bisect_right(self.trade_days, day)
                price = self.trade_prices[j - 1] if j else ZERO
            self.seen[day] = price
        return price


@dataclass
class _Symbol:
    """One symbol's figures (Ghostfolio's ``SymbolMetrics``), with its state after each of its
    activities, from which its chart figures on any day follow (a chart day without activity
    changes nothing but the price)."""

    prices: _Prices
    splits: Sequence[tuple[date, Decimal]]
    first: date
    quantity: Decimal = ZERO
    investment: Decimal = ZERO
    gross: Decimal = ZERO
    fees: Decimal = ZERO
    twi: Decimal = ZERO
    weighted_at_end: Decimal = ZERO
    price: Decimal = ZERO
    days: list[date] = field(default_factory=list)
    states: list[tuple[Decimal, Decimal, Decimal, Decimal, int]] = field(default_factory=list)
    """After each activity: units, investment, realised gross, fees, splits applied."""

    def _state(self, day: date) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
        i = bisect_right(self.days, day) - 1
        if day < self.first or i < 0:
            return None
        qty, inv, sells, fees, applied = self.states[i]
        for on, ratio in self.splits[applied:]:
            if on <= day:
                qty *= ratio
        return qty, inv, sells, fees

    def value(self, day: date) -> Decimal:
        state = self._state(day)
        return ZERO if state is None else state[0] * self.prices.at(day)

    def invested(self, day: date) -> Decimal:
        state = self._state(day)
        return ZERO if state is None else state[1]

    def net(self, day: date) -> Decimal:
        """Ghostfolio's ``netPerformanceValues[day]`` (0 before the first activity)."""
        state = self._state(day)
        if state is None:
            return ZERO
        qty, inv, sells, fees = state
        return qty * self.prices.at(day) - inv + sells - fees

    def spans(self, chart: Sequence[date]) -> list[tuple[int, int, Decimal]]:
        """The investment held between activities, as [from, to) indices of ``chart``."""
        starts = [bisect_left(chart, day) for day in self.days]
        ends = [*starts[1:], len(chart)]
        return [(lo, hi, s[1]) for lo, hi, s in zip(starts, ends, self.states, strict=True)]


def _symbol(
    real: Sequence[_Order],
    splits: Sequence[tuple[date, Decimal]],
    prices: _Prices,
    chart: Sequence[date],
    start: date,
    end: date,
) -> _Symbol:
    """Ghostfolio's ``getSymbolMetrics`` over the symbol's activities and the synthetic end
    order; the chart days between two of them count, day-weighted, in the time-weighted
    investment as Ghostfolio's synthetic chart-day orders do (prices are never 0, so a held
    position always has a value)."""
    out = _Symbol(prices, splits, real[0].day, price=prices.at(end))
    qty = inv = sells = fees = ZERO
    bought = bought_qty = average = ZERO
    days = weighted = ZERO
    applied = 0
    previous = start
    for order in [*real, _Order(end, "end")]:
        lo = bisect_right(chart, previous)
        hi = bisect_left(chart, order.day)
        if hi > lo and previous >= out.first:  # chart days between: synthetic orders
            if qty > 0:
                apart = Decimal((chart[hi - 1] - previous).days)
                days += apart
                weighted += inv * apart
            previous = chart[hi - 1]
        while applied < len(splits) and splits[applied][0] <= order.day:
            ratio = splits[applied][1]
            applied += 1
            qty, bought_qty = qty * ratio, bought_qty * ratio
            average = bought / bought_qty if bought_qty else ZERO
        held = qty > 0
        change = ZERO
        if order.kind == "buy":
            change = order.quantity * order.price
            bought_qty += order.quantity
            bought += change
        elif order.kind == "sell" and qty > 0:
            change = inv * (qty - order.quantity) / qty - inv
        before = inv
        inv += change
        fees += order.fee
        if order.kind == "buy":
            qty += order.quantity
        elif order.kind == "sell":
            qty -= order.quantity
            sells += (order.price - average) * order.quantity
        average = bought / bought_qty if bought_qty else ZERO
        if qty == 0:
            bought = bought_qty = ZERO
        if held and order.kind in ("buy", "sell", "end"):
            apart = Decimal((order.day - previous).days) or EPSILON
            days += apart
            weighted += before * apart
        previous = order.day
        if order.kind != "end":
            out.days.append(order.day)
            out.states.append((qty, inv, sells, fees, applied))
    out.quantity, out.investment, out.fees = qty, inv, fees
    out.gross = qty * out.price - inv + sells
    out.twi = weighted / days if days > 0 else ZERO
    out.weighted_at_end = weighted / days if days > EPSILON else (inv if inv > 0 else ZERO)
    return out


def _ratio(num: Decimal, den: Decimal) -> float:
    return float(num / den) if den > 0 else 0.0


def _held_on_chart(spans: Sequence[tuple[int, int, Decimal]], since: int) -> tuple[Decimal, int]:
    """The sum and count of the investment on the chart days from index ``since`` on that
    hold one."""
    total, count = ZERO, 0
    for lo, hi, invested in spans:
        days = hi - max(lo, since)
        if invested > 0 and days > 0:
            total += invested * days
            count += days
    return total, count


def _symbol_periods(
    metrics: _Symbol, chart: Sequence[date], start: date, end: date
) -> dict[str, RoaiPeriod]:
    """``netPerformanceWithCurrencyEffectMap`` and its percentage map."""
    out: dict[str, RoaiPeriod] = {}
    spans = metrics.spans(chart)
    for key, first in range_starts(end).items():
        since = start if first is None or first < start else first
        opened = metrics.value(since) - metrics.invested(since)
        total, count = _held_on_chart(spans, bisect_left(chart, since))
        average = (total + opened * count) / count if count else ZERO
        base = ZERO if first is None else metrics.net(since)
        change = metrics.net(end) - base
        out[key] = RoaiPeriod(
            start=since, net_performance=change, net_performance_percentage=_ratio(change, average)
        )
    return out


def _portfolio_periods(
    symbols: Sequence[_Symbol], chart: Sequence[date], end: date
) -> dict[str, RoaiPeriod]:
    """Ghostfolio's ``getPerformance`` over each range (its performance endpoint): the change
    of the chart's net performance, over the average investment of its days holding one."""
    steps = [ZERO] * (len(chart) + 1)
    for metrics in symbols:
        for lo, hi, invested in metrics.spans(chart):
            steps[lo] += invested
            steps[hi] -= invested
    invested_on: list[Decimal] = []
    running = ZERO
    for step in steps[:-1]:
        running += step
        invested_on.append(running)
    at_end = sum((m.net(end) for m in symbols), ZERO)
    out: dict[str, RoaiPeriod] = {}
    for key, first in range_starts(end).items():
        lo = 0 if first is None else bisect_left(chart, first)
        held = [v for v in invested_on[lo:] if v > 0]
        average = sum(held, ZERO) / len(held) if held else ZERO
        change = at_end - sum((m.net(chart[lo]) for m in symbols), ZERO)
        out[key] = RoaiPeriod(
            start=chart[lo],
            net_performance=change,
            net_performance_percentage=_ratio(change, average),
        )
    return out


def _fee(entry: Entry) -> Decimal:
    return entry.fee + (entry.amount or ZERO if entry.type == "fee" else ZERO)


def compute(entries: Sequence[Entry], quoted: Mapping[str, Series], as_of: date) -> Roai | None:
    """The `roai` block from the ledger (amounts in the base currency) and each symbol's prices
    on its own days (in the base currency); None for an empty ledger up to ``as_of``."""
    ledger = [e for e in entries if e.date <= as_of]
    if not ledger:
        return None
    start = min(e.date for e in ledger) - timedelta(days=1)
    chart = chart_days({e.date for e in ledger}, start, as_of)
    real: dict[str, list[_Order]] = defaultdict(list)
    splits: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    dividends: dict[str, Decimal] = defaultdict(Decimal)
    traded = {e.symbol for e in ledger if e.symbol and e.type in ("buy", "sell")}
    for e in ledger:
        if e.symbol not in traded:
            continue
        assert e.symbol is not None
        if e.type in ("buy", "sell"):
            real[e.symbol].append(
                _Order(e.date, e.type, e.quantity or ZERO, e.price or ZERO, e.fee)
            )
        elif e.type in ("dividend", "fee"):
            real[e.symbol].append(_Order(e.date, e.type, fee=_fee(e)))
            if e.type == "dividend":
                dividends[e.symbol] += e.amount or ZERO
        elif e.type == "split" and e.quantity:
            splits[e.symbol].append((e.date, e.quantity))
    positions: list[RoaiPosition] = []
    symbols: list[_Symbol] = []
    for symbol in sorted(real):
        orders = real[symbol]
        trades = [o for o in orders if o.kind in ("buy", "sell")]
        prices = _Prices(quoted.get(symbol, _NO_PRICES), trades)
        m = _symbol(orders, splits[symbol], prices, chart, start, as_of)
        symbols.append(m)
        net = m.gross - m.fees
        positions.append(
            RoaiPosition(
                symbol=symbol,
                quantity=m.quantity,
                date_of_first_activity=orders[0].day,
                activities_count=len(orders),
                average_price=m.investment / m.quantity if m.quantity else ZERO,
                market_price=m.price,
                investment=m.investment,
                value=m.quantity * m.price,
                fee=m.fees,
                dividend=dividends[symbol],
                gross_performance=m.gross,
                gross_performance_percentage=_ratio(m.gross, m.twi),
                net_performance=net,
                net_performance_percentage=_ratio(net, m.twi),
                time_weighted_investment=m.twi,
                periods=_symbol_periods(m, chart, start, as_of),
            )
        )
    weighted = sum((m.weighted_at_end for m in symbols), ZERO)
    net_at_end = sum((m.net(as_of) for m in symbols), ZERO)
    return Roai(
        as_of=as_of,
        current_value=sum((p.value for p in positions), ZERO),
        total_investment=sum((p.investment for p in positions), ZERO),
        gross_performance=sum((p.gross_performance for p in positions), ZERO),
        net_performance=sum((p.net_performance for p in positions), ZERO),
        fees=sum((_fee(e) for e in ledger), ZERO),
        dividends=sum((e.amount or ZERO for e in ledger if e.type == "dividend"), ZERO),
        time_weighted_investment=weighted,
        net_performance_percentage=(float(net_at_end / weighted) if weighted != 0 else 0.0),
        periods=_portfolio_periods(symbols, chart, as_of),
        positions=positions,
    )


_NO_PRICES = Series.of({})

__all__ = ["PERIOD_KEYS", "compute"]
