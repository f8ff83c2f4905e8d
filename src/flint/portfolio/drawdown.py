"""Drawdown beyond its maximum: the current one, the longest, and how long the worst took to
recover, on the same time-weighted index as `metrics` (the conventions there: column 0 is the
base 1 dated at the first day; a column's date is the day whose close it is)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from flint.portfolio.figure_schemas import DrawdownOut
from flint.portfolio.metrics import daily_returns

Array = np.ndarray[Any, Any]


def index_dates(returns: Array, dates: list[date]) -> tuple[Array, list[date]]:
    """The index (base 1, then each close) and the date of each column."""
    index = np.concatenate([[1.0], np.cumprod(1.0 + returns)])
    offset = len(dates) - len(returns)
    return index, [dates[max(k - 1 + offset, 0)] for k in range(len(index))]


def _spells(under: Array) -> list[tuple[int, int]]:
    """The runs of columns under water, as (first, last) inclusive."""
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def figures(values: Array, flows: Array, dates: list[date]) -> DrawdownOut:
    """The drawdown figures of a span's series (values and flows as `metrics` takes them)."""
    if not dates:
        return DrawdownOut()
    returns = daily_returns(values, flows)
    if not len(returns):
        return DrawdownOut()
    index, when = index_dates(returns, dates)
    peak = np.maximum.accumulate(index)
    drawn = index / peak - 1.0
    under = drawn < 0.0
    last = len(index) - 1
    trough = int(drawn.argmin())
    out: dict[str, Any] = {"max": float(drawn[trough]), "current": float(drawn[last])}
    if under[last]:
        out["current_since"] = when[_peak_before(index, peak, last)]
    if drawn[trough] < 0.0:
        out["max_start"] = when[_peak_before(index, peak, trough)]
        out["max_end"] = when[trough]
        back = np.flatnonzero(~under[trough:])
        if len(back):
            recovered = trough + int(back[0])
            out["max_recovered_on"] = when[recovered]
            out["days_to_recover"] = (when[recovered] - when[trough]).days
    best: tuple[int, date, date | None] | None = None
    for first, final in _spells(under):
        began = when[first - 1]  # the peak: the column before the first one under water
        ended = when[final + 1] if final < last else None
        length = ((ended or when[last]) - began).days
        if best is None or length > best[0]:
            best = (length, began, ended)
    if best is not None:
        out["longest_days"], out["longest_start"], out["longest_end"] = best
    return DrawdownOut(**out)


def _peak_before(index: Array, peak: Array, column: int) -> int:
    """The last column up to ``column`` at which the index stood at its running peak."""
    return int(np.flatnonzero(index[: column + 1] == peak[column])[-1])
