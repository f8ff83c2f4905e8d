"""The figures of a portfolio's performance (`performance_schemas.Performance`), from its
inputs: valued day by day (`valuation`), measured (`metrics`), and laid out for the API, each part
by a function of its own. CPU work: call it off the event loop.

``totalReturn`` is the gain (final value less net external flows) over the money put in (the
positive flows); a window that starts later opens on the day before's value, which counts as
money put in.

Money is exact: cash, flows, costs, realised P&L and dividends come from the `Decimal` ledger,
the last prices from the stored closes and rates (`Inputs.last_prices`), and every amount is
rounded (half even) to the minor unit of the base currency once, per holding, so that the
totals add up to the cent (value = holdings + cash, unrealised P&L = value of the holdings
less their cost). A series point's value is the day's holdings (valued in float64, as the
metrics read them) rounded to the minor unit plus the day's exact cash; the last point is the
market value itself. Ratios and returns stay floats, unrounded.

Annualised figures (``annualizedReturn``, ``alpha``) need a window of at least a year
(`MIN_ANNUALISED_DAYS` calendar days from the series' base point to its last day) and are null
otherwise; ``annualizedReturn`` compounds over calendar time, ``(1 + twr) ** (365 / days) - 1``,
whatever the valuation calendar (sessions, or every day for crypto, cash and custom assets).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from flint.kit.money import as_price, exact, in_currency
from flint.portfolio import breakdown, metrics, roai
from flint.portfolio.performance import Inputs, Window
from flint.portfolio.performance_schemas import (
    AllocationOut,
    DataStatus,
    HoldingPerformance,
    Performance,
    SeriesPoint,
)
from flint.portfolio.symbols import SymbolBook
from flint.portfolio.valuation import Series, Valuation, value

Array = np.ndarray[Any, Any]

MIN_ANNUALISED_DAYS = 365
"""The shortest window, in calendar days, whose figures are annualised."""


@dataclass(frozen=True)
class Span:
    """The valued days the window shows: from its start (opened on the day before's value,
    with no flow that day), or all of them."""

    values: Array
    flows: Array
    dates: list[Any]
    opened: bool
    """Whether the window opens on the value of a day before its start."""
    first: int = 0
    """The index of the first shown day among the valued days."""


def span(valued: Valuation, window: Window) -> Span:
    if window.start is None or not valued.dates:
        return Span(valued.values, valued.flows.copy(), valued.dates, opened=False)
    days = np.array(valued.dates, dtype="datetime64[D]")
    first = int(np.searchsorted(days, np.datetime64(window.start), side="left"))
    if first == 0 or first >= len(valued.values):
        shown = valued.dates[first:]
        return Span(valued.values[first:], valued.flows[first:].copy(), shown, False, first)
    return Span(
        valued.values[first - 1 :],
        np.concatenate([[0.0], valued.flows[first:]]),
        valued.dates[first - 1 :],
        opened=True,
        first=first - 1,
    )


@dataclass(frozen=True)
class Money:
    """The exact amounts of a valuation, in the base currency (rounded to its minor unit)."""

    valued: Valuation
    currency: str
    holdings: list[HoldingPerformance]
    cash: Decimal
    market_value: Decimal

    def value_on(self, day: int) -> Decimal:
        """A day's value: its holdings (float64) rounded, plus its exact cash."""
        held = float(self.valued.values[day] - self.valued.cash[day])
        return in_currency(exact(held) + self.valued.exact_cash[day], self.currency)

    def flow_on(self, shown: Span, i: int) -> Decimal:
        if shown.opened and i == 0:
            return in_currency(Decimal(0), self.currency)
        return in_currency(self.valued.exact_flows[shown.first + i], self.currency)


def money_of(valued: Valuation, last_prices: dict[str, Decimal], currency: str) -> Money:
    """Each position held at the end (so valued on some day) at its last price, and the cash;
    a position without a stored close is valued at the price the valuation used."""
    column = {symbol: i for i, symbol in enumerate(valued.symbols)}
    worth: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    for symbol, position in sorted(valued.positions.items()):
        price = last_prices.get(symbol)
        if price is None:
            price = as_price(exact(float(valued.prices[-1, column[symbol]])))
        value = in_currency(position.quantity * price, currency)
        worth[symbol] = (price, value, in_currency(position.cost, currency))
    cash = in_currency(valued.exact_cash[-1] if valued.dates else Decimal(0), currency)
    market_value = sum((value for _, value, _ in worth.values()), cash)
    rows = [
        HoldingPerformance(
            symbol=symbol,
            quantity=valued.positions[symbol].quantity,
            avg_cost=as_price(valued.positions[symbol].cost / valued.positions[symbol].quantity),
            price=price,
            value=value,
            pnl=value - cost,
            pnl_percent=float(value - cost) / float(cost) if cost else None,
            weight=float(value) / float(market_value) if market_value else None,
        )
        for symbol, (price, value, cost) in worth.items()
    ]
    return Money(valued, currency, rows, cash, market_value)


def benchmark_on(benchmark: Series, dates: list[Any]) -> Array:
    """The benchmark's last close on or before each day (NaN where there is none)."""
    if not len(dates) or not len(benchmark.days):
        return np.full(len(dates), np.nan)
    at = np.searchsorted(benchmark.days, np.array(dates, dtype="datetime64[D]"), side="right") - 1
    aligned: Array = benchmark.values[np.clip(at, 0, None)]
    return aligned


NO_RETURN = 1e-12
"""A series' return closer to zero than this is shown as 0: the values behind the returns are
sums of floats, a few units in their last place off the exact money, and a first day worth
exactly its deposit showed a return of -1.1e-16. (A cent on ten billion; the other returns
are left as computed, so the series still compounds to the window's TWR.)"""


def _shown(ratio: float) -> float:
    return 0.0 if abs(ratio) < NO_RETURN else ratio


def series(shown: Span, aligned: Array, money: Money) -> list[SeriesPoint]:
    returns = metrics.daily_returns(shown.values, shown.flows) if shown.dates else np.zeros(0)
    offset = len(shown.dates) - len(returns)
    cumulative = np.cumprod(1 + returns) - 1 if len(returns) else returns
    last = len(shown.dates) - 1
    return [
        SeriesPoint(
            date=day,
            value=money.market_value if i == last else money.value_on(shown.first + i),
            net_flow=money.flow_on(shown, i),
            daily_return=_shown(float(returns[i - offset])) if i >= offset else None,
            cumulative_return=_shown(float(cumulative[i - offset])) if i >= offset else 0.0,
            benchmark_value=None if np.isnan(aligned[i]) else exact(float(aligned[i])),
        )
        for i, day in enumerate(shown.dates)
    ]


def allocation(money: Money, book: SymbolBook) -> list[AllocationOut]:
    parts = [
        AllocationOut(
            symbol=row.symbol,
            asset_class=book.asset_class(row.symbol),
            weight=row.weight,
            value=row.value,
        )
        for row in money.holdings
    ]
    if money.cash:
        total = money.market_value
        weight = float(money.cash) / float(total) if total else None
        parts.append(
            AllocationOut(
                symbol=money.currency, asset_class="cash", weight=weight, value=money.cash
            )
        )
    return parts


def total_return(shown: Span, market_value: float) -> float | None:
    flows = shown.flows
    if not len(flows):
        return None
    if shown.opened:
        gain = market_value - float(shown.values[0]) - float(flows[1:].sum())
        put_in = float(shown.values[0]) + float(flows[1:][flows[1:] > 0].sum())
    else:
        gain = market_value - float(flows.sum())
        put_in = float(flows[flows > 0].sum())
    return gain / put_in if put_in else None


def elapsed_days(shown: Span) -> int:
    """Calendar days the returns span: from the start of the first day when it opens with a
    flow (its return counts), else from its close, to the close of the last."""
    if not shown.dates:
        return 0
    days: int = (shown.dates[-1] - shown.dates[0]).days
    return days + 1 if len(shown.flows) and shown.flows[0] > 0 else days


def annualised(m: metrics.Metrics, shown: Span) -> tuple[float | None, float | None]:
    """The annualised return (over calendar time) and alpha, for a window of a year or more."""
    days = elapsed_days(shown)
    if m.twr is None or days < MIN_ANNUALISED_DAYS:
        return None, None
    try:
        rate = math.pow(1.0 + m.twr, 365.0 / days) - 1.0
    except (OverflowError, ValueError):
        return None, m.alpha
    return (rate if math.isfinite(rate) else None), m.alpha


def figures(got: Inputs, window: Window, base: str) -> Performance:
    symbols = {e.symbol for e in got.entries if e.symbol is not None}
    valued = value(
        got.entries,
        got.priced,
        window.end,
        every_day=not symbols,
        through_end=any(s in got.book.custom for s in symbols),
    )
    shown = span(valued, window)
    money = money_of(valued, got.last_prices, base)
    aligned = benchmark_on(got.benchmark, shown.dates)
    m = (
        metrics.compute(
            shown.values,
            shown.flows,
            shown.dates,
            aligned if not np.isnan(aligned).any() else None,
            window.risk_free,
            money_weighted=False,  # the window's MWR is the `MAX` period's
        )
        if shown.dates
        else None
    )
    annual, alpha = annualised(m, shown) if m else (None, None)
    zero = in_currency(Decimal(0), base)
    more = breakdown.build(
        got, valued, window, (shown.values, shown.flows, shown.dates), money.holdings, base
    )
    whole = more.fields["periods"].get("MAX")
    return Performance(
        as_of=window.end,
        base_currency=base,
        # what the end is worth, even in a window without a valued day (a weekend's)
        market_value=money.market_value,
        cost_basis=sum((in_currency(p.cost, base) for p in valued.positions.values()), zero),
        unrealized_pnl=sum((row.pnl for row in money.holdings), zero),
        # the window's tallies (`breakdown`), exact
        realized_pnl=in_currency(more.run.totals.realized, base),
        dividends=in_currency(more.run.totals.dividends, base),
        total_return=total_return(shown, float(money.market_value)),
        twr=m.twr if m else None,
        # the window's, as `twr` (the metrics' `mwr` is the XIRR: `annualized_mwr`)
        mwr=whole.mwr if whole else None,
        annualized_mwr=whole.annualized_mwr if whole else None,
        annualized_return=annual,
        volatility=m.volatility if m else None,
        sharpe=m.sharpe if m else None,
        sortino=m.sortino if m else None,
        max_drawdown=m.max_drawdown if m else None,
        max_drawdown_start=m.max_drawdown_start if m else None,
        max_drawdown_end=m.max_drawdown_end if m else None,
        beta=m.beta if m else None,
        alpha=alpha,
        benchmark=window.benchmark,
        benchmark_return=m.benchmark_return if m else None,
        allocation=allocation(money, got.book),
        holdings=more.holdings,
        series=series(shown, aligned, money),
        roai=roai.compute(got.entries, got.quoted, window.end),
        **more.fields,
    )


def to_json(got: Inputs, window: Window, base: str, status: DataStatus | None = None) -> bytes:
    """The API's answer, serialized once (the cache and the response share the bytes), with
    ``status`` when closes are still missing."""
    answer = figures(got, window, base)
    if status is not None:
        answer.data_status = status
    return answer.model_dump_json(by_alias=True).encode()
