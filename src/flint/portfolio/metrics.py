"""Exact, vectorised performance metrics of a daily valuation series.

This module is THE one place where Flint's performance conventions are written down.
It is pure: NumPy and the standard library only, no I/O, and figures are never rounded.

Input
-----
A daily valuation series on the trading calendar, three aligned arrays of length ``N``:

* ``values[t]``: end-of-day market value (float64; ``Decimal`` is converted to float64).
* ``flows[t]``: external net flow of day ``t``, positive when money comes in from outside
  (deposits, buys funded from outside), negative when it leaves (withdrawals).  Every flow
  happens at the START of its day, so it is invested for the whole day.
* ``dates[t]``: the trading day (``datetime.date`` or anything ``numpy.datetime64[D]`` takes).

Daily returns (time-weighted)
-----------------------------
``r_t = V_t / (V_{t-1} + F_t) - 1`` for ``t >= 1``.

* First day: if ``F_0 > 0`` the account is taken to open with that flow, ``V_{-1} = 0``, and
  ``r_0 = V_0 / F_0 - 1`` is a return like any other.  If ``F_0 <= 0`` there is no return on
  day 0: ``V_0`` is the opening value the series starts from (any day-0 flow is already in it)
  and the first return is ``r_1``.  So ``daily_returns`` has ``N`` entries when ``F_0 > 0``
  and ``N - 1`` otherwise.
* Zero denominator: a day whose ``V_{t-1} + F_t`` is exactly 0 (an empty account) has return
  0.  Only exact zero is special; the formula is applied as is otherwise.

``n`` below is the number of returns.

Metrics (252 periods a year)
----------------------------
* ``twr`` = ``prod(1 + r) - 1``.
* ``annualized_return`` = ``(1 + twr) ** (252 / n) - 1`` (empyrical ``annual_return``).
* ``volatility`` = ``std(r, ddof=1) * sqrt(252)``; exactly 0 for a constant series.
* Risk free: ``risk_free`` is an ANNUAL rate, ``rf_daily = (1 + risk_free) ** (1/252) - 1``,
  ``excess = r - rf_daily``.
* ``sharpe`` = ``mean(excess) / std(excess, ddof=1) * sqrt(252)``; None when ``excess`` is
  constant (zero deviation).
* ``sortino`` = ``mean(excess) / DD * sqrt(252)`` with the downside deviation
  ``DD = sqrt(sum(min(excess, 0) ** 2) / n)`` over ALL ``n`` periods (empyrical
  ``sortino_ratio(r, required_return=rf_daily)`` and quantstats ``sortino(r, rf, 252)``
  compute exactly this); None when no period is below ``rf_daily`` (``DD == 0``).
* Drawdown: on the cumulative TWR index ``I`` that is 1 just before the first return and
  ``I_t = prod_{s<=t}(1 + r_s)`` after it, ``max_drawdown = min_t(I_t / max_{s<=t} I_s - 1)``
  (0 or negative).  ``max_drawdown_start`` is the date of the peak (the last date at which
  the index stood at that running maximum before the trough), ``max_drawdown_end`` the date
  of the trough (the first date of the minimum).  The base point of the index is dated
  ``dates[0]`` (it is the start of day 0 after its flow, or the close of day 0 when day 0 has
  no return).  Both dates are None when there is no drawdown.
* Benchmark: ``benchmark_values[t]`` is a benchmark price on the same dates; its daily
  returns are ``b_t = B_t / B_{t-1} - 1`` for ``t >= 1`` (0 when ``B_{t-1} == 0``), and
  ``benchmark_return = B_{N-1} / B_0 - 1``.  Beta and alpha pair ``r_t`` with ``b_t`` on days
  ``1 .. N-1`` only (the benchmark has no return on day 0, so ``r_0`` is left out of them).
* ``beta`` = ``cov(r, b, ddof=1) / var(b, ddof=1)``; None when ``b`` is constant.
* ``alpha`` is empyrical's annualised alpha:
  ``(1 + mean(r - rf_daily - beta * (b - rf_daily))) ** 252 - 1``.
* ``mwr``: money-weighted return, the XIRR (actual/365 day count) of the investor's cash
  flows, seen from the INVESTOR: money put in is negative, money taken out positive.  The
  amounts are ``-F_t`` on each date ``t >= 1`` plus ``+V_{N-1}`` on the last date (the final
  value, as if withdrawn), and on ``dates[0]`` ``-F_0`` when ``F_0 > 0`` and otherwise
  ``-V_0`` (the opening value is the first investment).  The rate ``x`` solves
  ``sum_i a_i * (1 + x) ** (-(d_i - d_0) / 365) = 0``.

Every metric is None where it is undefined: no return (``twr``, ``annualized_return``, drawdown),
fewer than 2 returns (volatility, Sharpe, Sortino), fewer than 2 paired benchmark days (beta,
alpha), a zero deviation as above, an XIRR whose flows never change sign or that has no root.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from flint.portfolio._returns import _returns_2d, daily_returns
from flint.portfolio._risk import _drawdowns, _mean_std, _paired
from flint.portfolio._series import ArrayLike, DatesLike, FloatArray, _as_float, _Dates
from flint.portfolio._xirr import _mwr, xirr

__all__ = [
    "PERIODS_PER_YEAR",
    "Metrics",
    "compute",
    "compute_many",
    "daily_returns",
    "xirr",
]

PERIODS_PER_YEAR = 252


@dataclass(frozen=True, slots=True)
class Metrics:
    """The metric set of one series; see the module docstring for every definition."""

    twr: float | None
    mwr: float | None
    annualized_return: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    max_drawdown_start: dt.date | None
    max_drawdown_end: dt.date | None
    beta: float | None
    alpha: float | None
    benchmark_return: float | None


def _finite(x: float, ok: bool = True) -> float | None:
    return x if ok and math.isfinite(x) else None


def _pow(x: float, y: float) -> float:
    """``x ** y`` as NumPy gives it: inf on overflow, NaN where it is undefined."""
    try:
        return math.pow(x, y)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def compute_many(
    values: ArrayLike,
    flows: ArrayLike,
    dates: DatesLike,
    benchmark_values: ArrayLike | None = None,
    risk_free: float = 0.0,
    *,
    money_weighted: bool = True,
) -> list[Metrics]:
    """The metric set of many series at once, vectorised along the series axis.

    ``values`` and ``flows`` are ``(S, N)`` (series x dates) sharing the ``N`` ``dates``;
    ``benchmark_values`` is ``(N,)`` (one benchmark for all) or ``(S, N)``.  Row ``i`` of the
    result equals ``compute(values[i], flows[i], dates, benchmark_values[i], risk_free)``.
    ``money_weighted=False`` leaves out the XIRR (``mwr`` is None), for callers that need only
    the time-weighted figures.
    """
    v = _as_float(values)
    f = _as_float(flows)
    days = _Dates(dates)
    if v.ndim != 2 or v.shape != f.shape or days.size != v.shape[1]:
        raise ValueError("values and flows must be (S, N) and dates (N,)")
    s_count, n_days = v.shape
    if s_count == 0:
        return []
    if n_days == 0:
        empty = Metrics(*([None] * 12))
        return [empty] * s_count
    b_vals: FloatArray | None = None
    if benchmark_values is not None:
        b_vals = _as_float(benchmark_values)
        if b_vals.ndim == 1:
            b_vals = b_vals[None, :]
        if b_vals.ndim != 2 or b_vals.shape[1] != n_days or b_vals.shape[0] not in (1, s_count):
            raise ValueError("benchmark_values must be (N,) or (S, N)")
    periods = float(PERIODS_PER_YEAR)
    sqrt_p = math.sqrt(periods)
    rf_daily = (1.0 + risk_free) ** (1.0 / periods) - 1.0

    # The work on whole rows, in NumPy ...
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r, opened, all_open = _returns_2d(v, f)
        left_out = None if all_open else ~opened
        n = float(n_days) if all_open else np.where(opened, float(n_days), float(n_days - 1))
        growth, mdd, peak, trough = _drawdowns(r)
        mean_r, std_r = _mean_std(r, left_out, n)
        if rf_daily == 0.0:  # r - 0.0 is r exactly
            excess, mean_x, std_x = r, mean_r, std_r
        else:
            excess = r - rf_daily
            if left_out is not None:
                excess[left_out, 0] = 0.0
            mean_x, std_x = _mean_std(excess, left_out, n)
        down = np.minimum(excess, 0.0)
        np.square(down, out=down)
        down_sums = down.sum(axis=1).tolist()
        paired = None if b_vals is None else _paired(r, b_vals)
        mwr = _mwr(v, f, left_out, days) if money_weighted else [None] * s_count

    # ... and the figures of each row, in Python floats.
    means = mean_x.tolist()
    open_rows = opened.tolist()
    m = float(n_days - 1)
    out: list[Metrics] = []
    for i in range(s_count):
        count = n_days if open_rows[i] else n_days - 1
        has_ret, two = count >= 1, count >= 2
        risk = math.sqrt(down_sums[i] / count) if two else math.nan
        beta = alpha = bench = None
        if paired is not None:
            j = i if len(paired.std_b) > 1 else 0
            first, last = paired.first_b[j], paired.last_b[j]
            bench = _finite(last / first - 1.0) if first != 0.0 else None
            std_b = paired.std_b[j]
            if n_days >= 3 and std_b > 0.0:
                slope = paired.products[i] / (m - 1.0) / (std_b * std_b)
                resid = (paired.mean_r[i] - rf_daily) - slope * (paired.mean_b[j] - rf_daily)
                beta = _finite(slope)
                alpha = _finite(_pow(1.0 + resid, periods) - 1.0)
        drawn = has_ret and mdd[i] < 0.0
        out.append(
            Metrics(
                twr=_finite(growth[i] - 1.0, has_ret),
                mwr=mwr[i],
                annualized_return=_finite(_pow(growth[i], periods / count) - 1.0, has_ret)
                if has_ret
                else None,
                volatility=_finite(std_r[i] * sqrt_p, two),
                sharpe=_finite(means[i] / std_x[i] * sqrt_p, two) if std_x[i] > 0.0 else None,
                sortino=_finite(means[i] / risk * sqrt_p, two) if risk > 0.0 else None,
                max_drawdown=_finite(mdd[i], has_ret),
                max_drawdown_start=days.date(max(peak[i] - 1, 0)) if drawn else None,
                max_drawdown_end=days.date(max(trough[i] - 1, 0)) if drawn else None,
                beta=beta,
                alpha=alpha,
                benchmark_return=bench,
            )
        )
    return out


def compute(
    values: ArrayLike,
    flows: ArrayLike,
    dates: DatesLike,
    benchmark_values: ArrayLike | None = None,
    risk_free: float = 0.0,
    *,
    money_weighted: bool = True,
) -> Metrics:
    """The metric set of one series (``risk_free`` is an annual rate; see the module docstring
    and `compute_many`)."""
    v = _as_float(values)
    f = _as_float(flows)
    if v.ndim != 1 or v.shape != f.shape:
        raise ValueError("values and flows must be 1-D arrays of the same length")
    bench = None if benchmark_values is None else _as_float(benchmark_values)[None, :]
    return compute_many(
        v[None, :], f[None, :], dates, bench, risk_free, money_weighted=money_weighted
    )[0]
