"""A literal, day-by-day transliteration of Ghostfolio's ROAI calculator (one synthetic order
per chart day, as ``roai/portfolio-calculator.ts`` does), to check `flint.portfolio.roai`, which
computes the same figures from each symbol's activities alone."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flint.portfolio.roai import chart_days, range_starts
from flint.portfolio.roai_schemas import Roai, RoaiPeriod, RoaiPosition
from flint.portfolio.valuation import Entry, Series

ZERO = Decimal(0)
EPSILON = Decimal(2) ** -52
"""JavaScript's ``Number.EPSILON``: Ghostfolio's days between two activities of one day."""


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
        self.days = [d.astype(date) for d in known.days]
        self.values = [Decimal(repr(float(v))) for v in known.values]
        self.trade_days = [o.day for o in trades]
        self.trade_prices = [o.price for o in trades]

    def at(self, day: date) -> Decimal:
        i = bisect_right(self.days, day)
        if i:
            return self.values[i - 1]
        j = bisect_right(self.trade_days, day)
        return self.trade_prices[j - 1] if j else ZERO


@dataclass
class _Symbol:
    """One symbol's figures (Ghostfolio's ``SymbolMetrics``)."""

    quantity: Decimal = ZERO
    investment: Decimal = ZERO
    gross: Decimal = ZERO
    fees: Decimal = ZERO
    twi: Decimal = ZERO
    price: Decimal = ZERO
    value: dict[date, Decimal] = field(default_factory=dict)
    net: dict[date, Decimal] = field(default_factory=dict)
    invested: dict[date, Decimal] = field(default_factory=dict)
    weighted: dict[date, Decimal] = field(default_factory=dict)


def _orders(real: Sequence[_Order], chart: Sequence[date], start: date, end: date) -> list[_Order]:
    """The symbol's activities with the synthetic start, end and chart-day orders, in
    Ghostfolio's order."""
    taken = {o.day for o in real} | {start, end}
    first = real[0].day
    synthetic = [_Order(d, "chart") for d in chart if d not in taken and first <= d <= end]
    rank = {"start": -1, "end": 1}
    merged = [_Order(start, "start"), *real, *synthetic, _Order(end, "end")]
    return sorted(merged, key=lambda o: (o.day, rank.get(o.kind, 0)))


def _symbol(
    real: Sequence[_Order],
    splits: Sequence[tuple[date, Decimal]],
    prices: _Prices,
    chart: Sequence[date],
    start: date,
    end: date,
) -> _Symbol:
    out = _Symbol(price=prices.at(end))
    qty = inv = sells = fees = ZERO
    bought = bought_qty = average = ZERO
    days = weighted = ZERO
    pending = list(splits)
    orders = _orders(real, chart, start, end)
    previous = start
    for order in orders[1:]:
        while pending and pending[0][0] <= order.day:
            ratio = pending.pop(0)[1]
            qty, bought_qty = qty * ratio, bought_qty * ratio
            average = bought / bought_qty if bought_qty else ZERO
        market = prices.at(order.day)
        value_before = qty * market
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
        value = qty * market
        gross = value - inv + sells
        if value_before > 0 and order.kind in ("buy", "sell", "chart", "end"):
            apart = Decimal((order.day - previous).days) or EPSILON
            days += apart
            weighted += before * apart
        out.value[order.day] = value
        out.net[order.day] = gross - fees
        out.invested[order.day] = inv
        out.weighted[order.day] = weighted / days if days > EPSILON else (inv if inv > 0 else ZERO)
        out.gross = gross
        previous = order.day
        if order.kind == "end":
            break
    out.quantity, out.investment, out.fees = qty, inv, fees
    out.twi = weighted / days if days > 0 else ZERO
    return out


def _ratio(num: Decimal, den: Decimal) -> float:
    return float(num / den) if den > 0 else 0.0


def _symbol_periods(
    metrics: _Symbol, chart: Sequence[date], start: date, end: date
) -> dict[str, RoaiPeriod]:
    """``netPerformanceWithCurrencyEffectMap`` and its percentage map."""
    out: dict[str, RoaiPeriod] = {}
    for key, first in range_starts(end).items():
        since = start if first is None or first < start else first
        opened = metrics.value.get(since, ZERO) - metrics.invested.get(since, ZERO)
        held = [
            metrics.invested[d] + opened
            for d in chart
            if since <= d <= end and metrics.invested.get(d, ZERO) > 0
        ]
        average = sum(held, ZERO) / len(held) if held else ZERO
        base = ZERO if first is None else metrics.net.get(since, ZERO)
        change = metrics.net.get(end, ZERO) - base
        out[key] = RoaiPeriod(
            start=since, net_performance=change, net_performance_percentage=_ratio(change, average)
        )
    return out


def _portfolio_periods(
    net: Mapping[date, Decimal], invested: Mapping[date, Decimal], chart: Sequence[date], end: date
) -> dict[str, RoaiPeriod]:
    """Ghostfolio's ``getPerformance`` over each range (the performance endpoint)."""
    out: dict[str, RoaiPeriod] = {}
    for key, first in range_starts(end).items():
        days = [d for d in chart if (first is None or d >= first) and d <= end]
        held = [invested[d] for d in days if invested[d] > 0]
        average = sum(held, ZERO) / len(held) if held else ZERO
        change = net[end] - net[days[0]]
        out[key] = RoaiPeriod(
            start=days[0],
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
    net_by_day: dict[date, Decimal] = dict.fromkeys(chart, ZERO)
    invested_by_day: dict[date, Decimal] = dict.fromkeys(chart, ZERO)
    weighted_by_day: dict[date, Decimal] = dict.fromkeys(chart, ZERO)
    for symbol in sorted(real):
        orders = real[symbol]
        trades = [o for o in orders if o.kind in ("buy", "sell")]
        prices = _Prices(quoted.get(symbol, _NO_PRICES), trades)
        m = _symbol(orders, splits[symbol], prices, chart, start, as_of)
        for day in chart:
            net_by_day[day] += m.net.get(day, ZERO)
            invested_by_day[day] += m.invested.get(day, ZERO)
            weighted_by_day[day] += m.weighted.get(day, ZERO)
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
    weighted = weighted_by_day[as_of]
    return Roai(
        as_of=as_of,
        current_value=sum((p.value for p in positions), ZERO),
        total_investment=sum((p.investment for p in positions), ZERO),
        gross_performance=sum((p.gross_performance for p in positions), ZERO),
        net_performance=sum((p.net_performance for p in positions), ZERO),
        fees=sum((_fee(e) for e in ledger), ZERO),
        dividends=sum((e.amount or ZERO for e in ledger if e.type == "dividend"), ZERO),
        time_weighted_investment=weighted,
        net_performance_percentage=(float(net_by_day[as_of] / weighted) if weighted != 0 else 0.0),
        periods=_portfolio_periods(net_by_day, invested_by_day, chart, as_of),
        positions=positions,
    )


_NO_PRICES = Series.of({})
