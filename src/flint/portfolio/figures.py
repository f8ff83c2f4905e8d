"""The figures of a portfolio's performance (`schemas.Performance`), from its inputs: valued day
by day (`valuation`), measured (`metrics`), and laid out for the API, each part by a function of
its own. CPU work: call it off the event loop.

``totalReturn`` is the gain (final value less net external flows) over the money put in (the
positive flows); a window that starts later opens on the day before's value, which counts as
money put in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from flint.portfolio import metrics
from flint.portfolio.performance import Inputs, Window
from flint.portfolio.schemas import (
    AllocationOut,
    DataStatus,
    HoldingPerformance,
    Performance,
    SeriesPoint,
)
from flint.portfolio.symbols import SymbolBook
from flint.portfolio.valuation import Series, Valuation, value

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Span:
    """The valued days the window shows: from its start (opened on the day before's value,
    with no flow that day), or all of them."""

    values: Array
    flows: Array
    dates: list[Any]
    opened: bool
    """Whether the window opens on the value of a day before its start."""


def span(valued: Valuation, window: Window) -> Span:
    if window.start is None or not valued.dates:
        return Span(valued.values, valued.flows.copy(), valued.dates, opened=False)
    days = np.array(valued.dates, dtype="datetime64[D]")
    first = int(np.searchsorted(days, np.datetime64(window.start), side="left"))
    if first == 0 or first >= len(valued.values):
        return Span(valued.values[first:], valued.flows[first:].copy(), valued.dates[first:], False)
    return Span(
        valued.values[first - 1 :],
        np.concatenate([[0.0], valued.flows[first:]]),
        valued.dates[first - 1 :],
        opened=True,
    )


def benchmark_on(benchmark: Series, dates: list[Any]) -> Array:
    """The benchmark's last close on or before each day (NaN where there is none)."""
    if not len(dates) or not len(benchmark.days):
        return np.full(len(dates), np.nan)
    at = np.searchsorted(benchmark.days, np.array(dates, dtype="datetime64[D]"), side="right") - 1
    aligned: Array = benchmark.values[np.clip(at, 0, None)]
    return aligned


def series(shown: Span, aligned: Array) -> list[SeriesPoint]:
    returns = metrics.daily_returns(shown.values, shown.flows) if shown.dates else np.zeros(0)
    offset = len(shown.dates) - len(returns)
    cumulative = np.cumprod(1 + returns) - 1 if len(returns) else returns
    return [
        SeriesPoint(
            date=day,
            value=float(shown.values[i]),
            net_flow=float(shown.flows[i]),
            daily_return=float(returns[i - offset]) if i >= offset else None,
            cumulative_return=float(cumulative[i - offset]) if i >= offset else 0.0,
            benchmark_value=None if np.isnan(aligned[i]) else float(aligned[i]),
        )
        for i, day in enumerate(shown.dates)
    ]


def holdings(valued: Valuation, market_value: float) -> list[HoldingPerformance]:
    """Each position held at the end (so valued on some day), at the last day's price."""
    column = {symbol: i for i, symbol in enumerate(valued.symbols)}
    rows: list[HoldingPerformance] = []
    for symbol, position in sorted(valued.positions.items()):
        i = column[symbol]
        worth = float(valued.quantities[-1, i] * valued.prices[-1, i])
        cost = float(position.cost)
        rows.append(
            HoldingPerformance(
                symbol=symbol,
                quantity=position.quantity,
                avg_cost=cost / float(position.quantity) if position.quantity else None,
                price=float(valued.prices[-1, i]),
                value=worth,
                pnl=worth - cost,
                pnl_percent=(worth - cost) / cost if cost else None,
                weight=worth / market_value if market_value else None,
            )
        )
    return rows


def allocation(
    rows: list[HoldingPerformance], book: SymbolBook, cash: float, market_value: float, base: str
) -> list[AllocationOut]:
    parts = [
        AllocationOut(
            symbol=row.symbol,
            asset_class=book.asset_class(row.symbol),
            weight=row.weight,
            value=row.value,
        )
        for row in rows
    ]
    if cash:
        weight = cash / market_value if market_value else None
        parts.append(AllocationOut(symbol=base, asset_class="cash", weight=weight, value=cash))
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


def figures(got: Inputs, window: Window, base: str) -> Performance:
    valued = value(got.entries, got.priced, window.end)
    shown = span(valued, window)
    aligned = benchmark_on(got.benchmark, shown.dates)
    m = (
        metrics.compute(
            shown.values,
            shown.flows,
            shown.dates,
            aligned if not np.isnan(aligned).any() else None,
            window.risk_free,
        )
        if shown.dates
        else None
    )
    market_value = float(shown.values[-1]) if len(shown.values) else 0.0
    rows = holdings(valued, market_value)
    cash = float(valued.cash[-1]) if valued.dates else 0.0
    return Performance(
        as_of=window.end,
        base_currency=base,
        market_value=market_value,
        cost_basis=float(sum(p.cost for p in valued.positions.values())),
        unrealized_pnl=float(sum(row.pnl for row in rows)),
        realized_pnl=float(valued.realized),
        dividends=float(valued.dividends),
        total_return=total_return(shown, market_value),
        twr=m.twr if m else None,
        mwr=m.mwr if m else None,
        annualized_return=m.annualized_return if m else None,
        volatility=m.volatility if m else None,
        sharpe=m.sharpe if m else None,
        sortino=m.sortino if m else None,
        max_drawdown=m.max_drawdown if m else None,
        max_drawdown_start=m.max_drawdown_start if m else None,
        max_drawdown_end=m.max_drawdown_end if m else None,
        beta=m.beta if m else None,
        alpha=m.alpha if m else None,
        benchmark=window.benchmark,
        benchmark_return=m.benchmark_return if m else None,
        allocation=allocation(rows, got.book, cash, market_value, base),
        holdings=rows,
        series=series(shown, aligned),
    )


def to_json(got: Inputs, window: Window, base: str, status: DataStatus | None = None) -> bytes:
    """The API's answer, serialized once (the cache and the response share the bytes), with
    ``status`` when closes are still missing."""
    answer = figures(got, window, base)
    if status is not None:
        answer.data_status = status
    return answer.model_dump_json(by_alias=True).encode()
