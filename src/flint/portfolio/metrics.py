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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "PERIODS_PER_YEAR",
    "Metrics",
    "compute",
    "compute_many",
    "daily_returns",
    "xirr",
]

PERIODS_PER_YEAR = 252
DAYS_PER_YEAR = 365.0

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike
DatesLike = Sequence[dt.date] | npt.NDArray[Any]

_XIRR_TOL = 1e-13
_XIRR_MAX_NEWTON = 60


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


# --------------------------------------------------------------------------- helpers


def _as_float(a: ArrayLike) -> FloatArray:
    arr = np.asarray(a)
    if arr.dtype == object:
        arr = np.asarray(arr.tolist(), dtype=np.float64)  # Decimal -> float
    return np.asarray(arr, dtype=np.float64)


def _as_days(dates: DatesLike) -> npt.NDArray[np.datetime64]:
    return np.asarray(dates, dtype="datetime64[D]")


def _to_date(d: np.datetime64) -> dt.date:
    value = d.astype("datetime64[D]").item()
    assert isinstance(value, dt.date)
    return value


def _opt(x: np.floating[Any] | float, ok: bool | np.bool_ = True) -> float | None:
    f = float(x)
    if not ok or not math.isfinite(f):
        return None
    return f


def _returns_2d(values: FloatArray, flows: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Returns of every day with the day-0 slot NaN where day 0 has no return, and its mask."""
    prev = np.empty_like(values)
    prev[:, 0] = 0.0
    prev[:, 1:] = values[:, :-1]
    denom = prev + flows
    zero = denom == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(zero, 0.0, values / np.where(zero, 1.0, denom) - 1.0)
    valid = np.ones(values.shape, dtype=bool)
    valid[:, 0] = flows[:, 0] > 0.0
    r[:, 0] = np.where(valid[:, 0], r[:, 0], np.nan)
    return r, valid


def daily_returns(values: ArrayLike, flows: ArrayLike) -> FloatArray:
    """Time-weighted daily returns, flows at the start of the day (see the module docstring).

    ``N`` entries when ``flows[0] > 0``, else ``N - 1`` (day 0 has no return).
    """
    v = _as_float(values)
    f = _as_float(flows)
    if v.ndim != 1 or v.shape != f.shape:
        raise ValueError("values and flows must be 1-D arrays of the same length")
    if v.size == 0:
        return np.empty(0, dtype=np.float64)
    r, valid = _returns_2d(v[None, :], f[None, :])
    out: FloatArray = r[0][valid[0]]
    return out


# --------------------------------------------------------------------------- XIRR


def _npv_and_slope_log(
    log_growth: FloatArray, amounts: FloatArray, years: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """NPV and its derivative in ``u = log(1 + rate)`` of each row, both scaled by a positive
    per-row factor (which leaves the Newton step ``npv / slope`` unchanged and avoids overflow).
    """
    expo = -years[None, :] * log_growth[:, None]
    disc = np.exp(expo - expo.max(axis=1, keepdims=True))
    weighted = amounts * disc
    npv = weighted.sum(axis=1)
    slope = -(weighted * years[None, :]).sum(axis=1)
    return npv, slope


def _npv(rate: float, amounts: FloatArray, years: FloatArray) -> float:
    return float((amounts * np.exp(-years * math.log1p(rate))).sum())


def _xirr_bracketed(amounts: FloatArray, years: FloatArray) -> float | None:
    """Fallback: find a sign change of the NPV on (-1, inf), then bisect it to the last bit."""
    grid = np.concatenate(
        [
            -1.0 + np.logspace(-12, -1, 23),
            np.linspace(-0.9, 1.0, 39)[1:],
            np.logspace(0.1, 9, 60),
        ]
    )
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        npvs = np.array([_npv(float(x), amounts, years) for x in grid])
    finite = np.isfinite(npvs)
    for i in range(len(grid) - 1):
        if not (finite[i] and finite[i + 1]):
            continue
        if npvs[i] == 0.0:
            return float(grid[i])
        if np.sign(npvs[i]) != np.sign(npvs[i + 1]):
            lo, hi = float(grid[i]), float(grid[i + 1])
            f_lo = float(npvs[i])
            for _ in range(200):
                mid = 0.5 * (lo + hi)
                if mid in (lo, hi):
                    break
                f_mid = _npv(mid, amounts, years)
                if f_mid == 0.0:
                    return mid
                if (f_mid > 0) == (f_lo > 0):
                    lo, f_lo = mid, f_mid
                else:
                    hi = mid
            return 0.5 * (lo + hi)
    return None


def _xirr_rows(amounts: FloatArray, years: FloatArray) -> list[float | None]:
    """XIRR of every row of ``amounts`` (rows x dates, ``years`` since the first date).

    Newton's method on all rows at once, in ``log(1 + rate)`` from a 10% guess; rows it does
    not bring to convergence fall back to a bracketing search with bisection.
    """
    rows = amounts.shape[0]
    spans_time = bool(years.size > 0 and years.max() > years.min())
    solvable: npt.NDArray[np.bool_] = np.logical_and(
        np.any(amounts > 0, axis=1), np.any(amounts < 0, axis=1)
    )
    if not spans_time:
        solvable = np.zeros(rows, dtype=bool)
    # Newton in u = log(1 + rate): the whole real line maps onto rate > -1.  The guess is the
    # exact answer for the two flows that carry all money in and all money out at their
    # amount-weighted mean dates.
    money_in = np.where(amounts < 0, -amounts, 0.0)
    money_out = np.where(amounts > 0, amounts, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        total_in = money_in.sum(axis=1)
        total_out = money_out.sum(axis=1)
        mean_out = (money_out * years).sum(axis=1) / total_out
        mean_in = (money_in * years).sum(axis=1) / total_in
        span = mean_out - mean_in
        guess = np.log(total_out / total_in) / span
    log_growth = np.where(np.isfinite(guess) & (np.abs(guess) < 50.0), guess, math.log1p(0.1))
    done = ~solvable
    converged = np.zeros(rows, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(_XIRR_MAX_NEWTON):
            idx = np.flatnonzero(~done)
            if idx.size == 0:
                break
            npv, slope = _npv_and_slope_log(log_growth[idx], amounts[idx], years)
            step = npv / slope
            new = log_growth[idx] - step
            bad = ~np.isfinite(new) | (np.abs(new) > 50.0)
            small = np.abs(step) <= _XIRR_TOL
            log_growth[idx] = np.where(bad, log_growth[idx], new)
            converged[idx[small & ~bad]] = True
            done[idx[small | bad]] = True
    rate = np.expm1(log_growth)
    out: list[float | None] = []
    for i in range(rows):
        if not solvable[i]:
            out.append(None)
        elif converged[i] and math.isfinite(rate[i]):
            out.append(float(rate[i]))
        else:
            out.append(_xirr_bracketed(amounts[i], years))
    return out


def xirr(amounts: ArrayLike, dates: DatesLike) -> float | None:
    """Annual rate ``x`` with ``sum(a_i * (1 + x) ** (-(d_i - d_0) / 365)) == 0``.

    ``d_0`` is the earliest date; dates need not be sorted or distinct.  None when the
    amounts do not change sign, all dates are equal, or no root is found.
    """
    a = _as_float(amounts)
    d = _as_days(dates)
    if a.ndim != 1 or a.shape != d.shape:
        raise ValueError("amounts and dates must be 1-D arrays of the same length")
    if a.size == 0:
        return None
    years = (d - d.min()).astype(np.int64).astype(np.float64) / DAYS_PER_YEAR
    return _xirr_rows(a[None, :], years)[0]


# --------------------------------------------------------------------------- metrics


def _row_sum(x: FloatArray, mask: npt.NDArray[np.bool_]) -> FloatArray:
    out: FloatArray = np.where(mask, x, 0.0).sum(axis=1)
    return out


def _mean_std(
    x: FloatArray, mask: npt.NDArray[np.bool_], n: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Row means and sample (ddof=1) deviations over ``mask``; deviation exactly 0 if constant."""
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = _row_sum(x, mask) / n
        dev = np.where(mask, x - mean[:, None], 0.0)
        std = np.sqrt((dev * dev).sum(axis=1) / (n - 1.0))
    hi = np.where(mask, x, -np.inf).max(axis=1)
    lo = np.where(mask, x, np.inf).min(axis=1)
    std = np.where(hi == lo, 0.0, std)
    return mean, std


def compute_many(
    values: ArrayLike,
    flows: ArrayLike,
    dates: DatesLike,
    benchmark_values: ArrayLike | None = None,
    risk_free: float = 0.0,
) -> list[Metrics]:
    """The metric set of many series at once, vectorised along the series axis.

    ``values`` and ``flows`` are ``(S, N)`` (series x dates) sharing the ``N`` ``dates``;
    ``benchmark_values`` is ``(N,)`` (one benchmark for all) or ``(S, N)``.  Row ``i`` of the
    result equals ``compute(values[i], flows[i], dates, benchmark_values[i], risk_free)``.
    """
    v = _as_float(values)
    f = _as_float(flows)
    d = _as_days(dates)
    if v.ndim != 2 or v.shape != f.shape or d.shape != (v.shape[1],):
        raise ValueError("values and flows must be (S, N) and dates (N,)")
    s_count, n_days = v.shape
    if s_count == 0:
        return []
    if n_days == 0:
        empty = Metrics(*([None] * 12))
        return [empty] * s_count
    periods = float(PERIODS_PER_YEAR)
    sqrt_p = math.sqrt(periods)

    r, valid = _returns_2d(v, f)
    n = valid.sum(axis=1).astype(np.float64)
    r0 = np.where(valid, r, 0.0)

    # Growth: TWR, annualised return, drawdown on the index starting at 1.
    index = np.empty((s_count, n_days + 1))
    index[:, 0] = 1.0
    np.cumprod(1.0 + r0, axis=1, out=index[:, 1:])
    growth = index[:, -1]
    twr = growth - 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ann = np.power(growth, periods / n) - 1.0
    run_max = np.maximum.accumulate(index, axis=1)
    drawdown = index / run_max - 1.0
    trough = drawdown.argmin(axis=1)
    mdd = drawdown[np.arange(s_count), trough]
    cols = np.arange(n_days + 1)
    at_peak = (cols[None, :] <= trough[:, None]) & (
        index == run_max[np.arange(s_count), trough][:, None]
    )
    peak = n_days - at_peak[:, ::-1].argmax(axis=1)
    col_date = np.maximum(cols - 1, 0)

    # Dispersion: volatility, Sharpe, Sortino.
    _, std_r = _mean_std(r, valid, n)
    rf_daily = (1.0 + risk_free) ** (1.0 / periods) - 1.0
    excess = r - rf_daily
    mean_x, std_x = _mean_std(excess, valid, n)
    down = np.where(valid, np.minimum(excess, 0.0), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd_risk = np.sqrt((down * down).sum(axis=1) / n)
        vol = std_r * sqrt_p
        sharpe = mean_x / std_x * sqrt_p
        sortino = mean_x / dd_risk * sqrt_p

    # Benchmark: beta, alpha, benchmark return on days 1 .. N-1.
    beta: FloatArray | None = None
    alpha: FloatArray | None = None
    bench_ret: FloatArray | None = None
    if benchmark_values is not None:
        b_vals = _as_float(benchmark_values)
        if b_vals.ndim == 1:
            b_vals = b_vals[None, :]
        if b_vals.shape[1] != n_days or b_vals.shape[0] not in (1, s_count):
            raise ValueError("benchmark_values must be (N,) or (S, N)")
        b_vals = np.broadcast_to(b_vals, (s_count, n_days))
        with np.errstate(divide="ignore", invalid="ignore"):
            bench_ret = b_vals[:, -1] / b_vals[:, 0] - 1.0
            b_prev = b_vals[:, :-1]
            b_zero = b_prev == 0.0
            b = np.where(b_zero, 0.0, b_vals[:, 1:] / np.where(b_zero, 1.0, b_prev) - 1.0)
        rp = r[:, 1:]
        paired = np.ones(rp.shape, dtype=bool)
        m = np.full(s_count, float(n_days - 1))
        mean_b, std_b = _mean_std(b, paired, m)
        mean_rp = rp.mean(axis=1) if n_days > 1 else np.full(s_count, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = ((rp - mean_rp[:, None]) * (b - mean_b[:, None])).sum(axis=1) / (m - 1.0)
            beta = np.where(std_b > 0.0, cov / (std_b * std_b), np.nan)
            resid = (rp - rf_daily) - beta[:, None] * (b - rf_daily)
            alpha = np.power(1.0 + resid.mean(axis=1), periods) - 1.0

    # Money-weighted return.
    amounts = -f.copy()
    amounts[:, 0] = np.where(valid[:, 0], -f[:, 0], -v[:, 0])
    amounts[:, -1] += v[:, -1]
    years = (d - d[0]).astype(np.int64).astype(np.float64) / DAYS_PER_YEAR
    mwr = _xirr_rows(amounts, years)

    out: list[Metrics] = []
    for i in range(s_count):
        has_ret = n[i] >= 1
        two = n[i] >= 2
        has_dd = bool(has_ret and mdd[i] < 0.0)
        out.append(
            Metrics(
                twr=_opt(twr[i], has_ret),
                mwr=mwr[i],
                annualized_return=_opt(ann[i], has_ret),
                volatility=_opt(vol[i], two),
                sharpe=_opt(sharpe[i], two and std_x[i] > 0.0),
                sortino=_opt(sortino[i], two and dd_risk[i] > 0.0),
                max_drawdown=_opt(mdd[i], has_ret),
                max_drawdown_start=_to_date(d[col_date[peak[i]]]) if has_dd else None,
                max_drawdown_end=_to_date(d[col_date[trough[i]]]) if has_dd else None,
                beta=None if beta is None else _opt(beta[i], n_days >= 3),
                alpha=None if alpha is None else _opt(alpha[i], n_days >= 3),
                benchmark_return=None if bench_ret is None else _opt(bench_ret[i]),
            )
        )
    return out


def compute(
    values: ArrayLike,
    flows: ArrayLike,
    dates: DatesLike,
    benchmark_values: ArrayLike | None = None,
    risk_free: float = 0.0,
) -> Metrics:
    """The metric set of one series (``risk_free`` is an annual rate; see the module docstring)."""
    v = _as_float(values)
    f = _as_float(flows)
    if v.ndim != 1 or v.shape != f.shape:
        raise ValueError("values and flows must be 1-D arrays of the same length")
    bench = None if benchmark_values is None else _as_float(benchmark_values)[None, :]
    return compute_many(v[None, :], f[None, :], dates, bench, risk_free)[0]
