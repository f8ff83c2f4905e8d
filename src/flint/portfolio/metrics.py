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
"""Newton stops once its step in ``log(1 + rate)`` is below this, relative to that value where it
exceeds 1 (near a rate of e^46 the NPV's round-off alone moves the step by more than 1e-13)."""
_XIRR_MAX_NEWTON = 60
_XIRR_SHORT = 8


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

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
BoolArray = npt.NDArray[np.bool_]


def _as_float(a: ArrayLike) -> FloatArray:
    arr = np.asarray(a)
    if arr.dtype == object:
        arr = np.asarray(arr.tolist(), dtype=np.float64)  # Decimal -> float
    return np.asarray(arr, dtype=np.float64)


def _day_numbers(items: Sequence[Any] | npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Days since 1970-01-01 of ``items``; plain dates go through their ordinals, many times
    faster than NumPy's conversion of date objects."""
    if all(type(x) is dt.date for x in items):
        ordinals = np.fromiter((x.toordinal() for x in items), dtype=np.int64, count=len(items))
        return ordinals - _EPOCH_ORDINAL
    return np.asarray(items, dtype="datetime64[D]").astype(np.int64)


def _as_days(dates: DatesLike) -> npt.NDArray[np.datetime64]:
    if isinstance(dates, np.ndarray) and dates.dtype.kind == "M":
        return dates.astype("datetime64[D]")
    if isinstance(dates, list | tuple) or (isinstance(dates, np.ndarray) and dates.dtype == object):
        return _day_numbers(dates).astype("datetime64[D]")
    return np.asarray(dates, dtype="datetime64[D]")


def _to_date(d: np.datetime64) -> dt.date:
    value = d.astype("datetime64[D]").item()
    assert isinstance(value, dt.date)
    return value


class _Dates:
    """A series' dates, converted only where a metric reads them (the XIRR's flow days, the
    drawdown's two ends): converting every date of a long list costs more than the metrics."""

    __slots__ = ("_array", "_items", "size")

    def __init__(self, dates: DatesLike) -> None:
        self._items: Sequence[Any] | npt.NDArray[Any] | None = None
        self._array: npt.NDArray[np.datetime64] | None = None
        if isinstance(dates, list | tuple) or (
            isinstance(dates, np.ndarray) and dates.dtype == object and dates.ndim == 1
        ):
            self._items = dates
            self.size = len(dates)
        else:
            self._array = _as_days(dates)
            self.size = self._array.size if self._array.ndim == 1 else -1

    def day_numbers(self, at: npt.NDArray[np.intp]) -> list[int]:
        """The dates at ``at`` as counts of days from a fixed origin."""
        if self._array is not None:
            out: list[int] = self._array[at].astype(np.int64).tolist()
            return out
        assert self._items is not None
        picked = [self._items[i] for i in at.tolist()]
        if all(type(x) is dt.date for x in picked):
            return [x.toordinal() for x in picked]
        days = np.asarray(picked, dtype="datetime64[D]")
        if days.ndim != 1:
            raise ValueError("dates must be a 1-D sequence of dates")
        numbers: list[int] = days.astype(np.int64).tolist()
        return numbers

    def date(self, i: int) -> dt.date:
        if self._array is not None:
            return _to_date(self._array[i])
        assert self._items is not None
        item = self._items[i]
        if type(item) is dt.date:
            return item
        return _to_date(np.asarray([item], dtype="datetime64[D]")[0])


def _returns_2d(values: FloatArray, flows: FloatArray) -> tuple[FloatArray, BoolArray, bool]:
    """Every day's return, which rows have one on day 0 (``flows[:, 0] > 0``) and whether all
    do; where day 0 has no return its slot holds 0, so that row sums over every slot are sums
    over returns. Callers ignore NumPy's division warnings."""
    s_count, n_days = values.shape
    r = np.empty((s_count, n_days))
    opened = flows[:, 0] > 0.0
    first = r[:, 0]
    np.divide(values[:, 0], flows[:, 0], out=first)
    first -= 1.0
    all_open = bool(opened.all())
    if not all_open:
        first[~opened] = 0.0
    if n_days > 1:
        _ratio_less_one(values[:, 1:], values[:, :-1] + flows[:, 1:], out=r[:, 1:])
    return r, opened, all_open


def _ratio_less_one(num: FloatArray, denom: FloatArray, out: FloatArray) -> None:
    """``out = num / denom - 1``, and 0 where ``denom`` is exactly 0 (callers ignore NumPy's
    division warnings)."""
    np.divide(num, denom, out=out)
    out -= 1.0
    if not denom.all():
        out[denom == 0.0] = 0.0


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
    with np.errstate(divide="ignore", invalid="ignore"):
        r, opened, _ = _returns_2d(v[None, :], f[None, :])
    out: FloatArray = r[0] if opened[0] else r[0, 1:]
    return out


# --------------------------------------------------------------------------- XIRR
#
# Sums over the flows run in order (``cumsum``), not pairwise: a day without a flow then adds
# an exact 0 wherever it sits, so a series' rate does not depend on which other series share
# its batch (``compute_many`` keeps the days on which any of its series has a flow).


def _last_of_cumsum(x: FloatArray) -> FloatArray:
    out: FloatArray = np.cumsum(x, axis=1)[:, -1]
    return out


def _npv_and_slope_log(
    log_growth: FloatArray, amounts: FloatArray, absent: BoolArray, years: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """NPV and its derivative in ``u = log(1 + rate)`` of each row, both scaled by a positive
    per-row factor (which leaves the Newton step ``npv / slope`` unchanged and avoids overflow).
    ``absent`` marks the zero amounts, which take no part in the scale.
    """
    expo = -years[None, :] * log_growth[:, None]
    expo[absent] = -np.inf
    disc = np.exp(expo - expo.max(axis=1, keepdims=True))
    weighted = amounts * disc
    npv = _last_of_cumsum(weighted)
    weighted *= years
    slope = -_last_of_cumsum(weighted)
    return npv, slope


def _npv(rate: float, amounts: FloatArray, years: FloatArray) -> float:
    return float((amounts * np.exp(-years * math.log1p(rate))).sum())


def _xirr_bracketed(amounts: FloatArray, years: FloatArray) -> float | None:
    """Fallback: find a sign change of the NPV on (-1, inf), then bisect it to the last bit.
    Only the nonzero amounts are passed in."""
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


def _xirr_short(amounts: list[float], years: list[float]) -> float | None:
    """`_xirr_rows`' Newton iteration for one row of a few nonzero amounts, in Python floats
    (for so few, NumPy's cost per call outweighs the arithmetic)."""
    total_in = total_out = time_in = time_out = 0.0
    for x, t in zip(amounts, years, strict=True):
        if x < 0.0:
            total_in -= x
            time_in -= x * t
        else:
            total_out += x
            time_out += x * t
    try:
        guess = math.log(total_out / total_in) / (time_out / total_out - time_in / total_in)
    except (ValueError, ZeroDivisionError):
        guess = math.nan
    u = guess if math.isfinite(guess) and abs(guess) < 50.0 else math.log1p(0.1)
    for _ in range(_XIRR_MAX_NEWTON):
        exponents = [-t * u for t in years]
        top = max(exponents)
        npv = slope = 0.0
        for x, t, e in zip(amounts, years, exponents, strict=True):
            w = x * math.exp(e - top)
            npv += w
            slope += w * t
        try:
            step = npv / -slope
        except ZeroDivisionError:
            break
        new = u - step
        if not math.isfinite(new) or abs(new) > 50.0:
            break
        u = new
        if abs(step) <= _XIRR_TOL * max(1.0, abs(u)):
            rate = math.expm1(u)
            return rate if math.isfinite(rate) else None
    return _xirr_bracketed(np.array(amounts), np.array(years))


def _xirr_rows(amounts: FloatArray, years: list[float]) -> list[float | None]:
    """XIRR of every row of ``amounts`` (rows x dates, ``years`` since the first date).

    Each row is solved by Newton's method in ``log(1 + rate)``, rows of at most
    ``_XIRR_SHORT`` nonzero amounts one by one in Python floats, the others all at once in
    NumPy; rows it does not bring to convergence fall back to a bracketing search with
    bisection. Which way a row goes depends on that row alone, so its rate does not depend on
    the rows beside it. Callers ignore NumPy's overflow and division warnings.
    """
    rows = amounts.shape[0]
    out: list[float | None] = [None] * rows
    if not years or max(years) <= min(years):
        return out
    long: list[int] = []
    for i, (a, t) in enumerate(_nonzero_rows(amounts, years)):
        count = len(a)
        if not (any(x > 0.0 for x in a) and any(x < 0.0 for x in a)):
            continue
        if count <= _XIRR_SHORT:
            out[i] = _xirr_short(a, t)
        else:
            long.append(i)
    if long:
        for i, rate in zip(long, _xirr_newton(amounts[long], np.array(years)), strict=True):
            out[i] = rate
    return out


def _nonzero_rows(amounts: FloatArray, years: list[float]) -> list[tuple[list[float], list[float]]]:
    """Each row's nonzero amounts and their times, as lists."""
    if amounts.size <= 4096:  # a small matrix is quicker in Python than in NumPy calls
        out = []
        for row in amounts.tolist():
            a = [x for x in row if x != 0.0]
            t = (
                years
                if len(a) == len(years)
                else [y for x, y in zip(row, years, strict=True) if x != 0.0]
            )
            out.append((a, t))
        return out
    present = amounts != 0.0
    flat = amounts[present].tolist()  # row after row
    times = np.array(years)[present.nonzero()[1]].tolist()
    out, start = [], 0
    for count in present.sum(axis=1).tolist():
        out.append((flat[start : start + count], times[start : start + count]))
        start += count
    return out


def _xirr_newton(amounts: FloatArray, years: FloatArray) -> list[float | None]:
    """Newton's method on all rows at once (each with amounts of both signs); the guess is the
    exact answer for the two flows that carry all money in and all money out at their
    amount-weighted mean dates."""
    rows = amounts.shape[0]
    absent = amounts == 0.0
    money = np.stack([np.maximum(-amounts, 0.0), np.maximum(amounts, 0.0)])  # in, out
    totals = np.cumsum(money, axis=2)[:, :, -1]
    money *= years
    means = np.cumsum(money, axis=2)[:, :, -1] / totals
    guess = np.log(totals[1] / totals[0]) / (means[1] - means[0])
    log_growth = np.where(np.isfinite(guess) & (np.abs(guess) < 50.0), guess, math.log1p(0.1))
    done = np.zeros(rows, dtype=bool)
    converged = np.zeros(rows, dtype=bool)
    for _ in range(_XIRR_MAX_NEWTON):
        idx = np.flatnonzero(~done)
        if idx.size == 0:
            break
        if idx.size == rows:
            npv, slope = _npv_and_slope_log(log_growth, amounts, absent, years)
        else:
            npv, slope = _npv_and_slope_log(log_growth[idx], amounts[idx], absent[idx], years)
        step = npv / slope
        new = log_growth[idx] - step
        bad = ~np.isfinite(new) | (np.abs(new) > 50.0)
        small = np.abs(step) <= _XIRR_TOL * np.maximum(1.0, np.abs(new))
        log_growth[idx] = np.where(bad, log_growth[idx], new)
        converged[idx[small & ~bad]] = True
        done[idx[small | bad]] = True
    rate = np.expm1(log_growth)
    out: list[float | None] = []
    for i, (hit, x) in enumerate(zip(converged.tolist(), rate.tolist(), strict=True)):
        if hit and math.isfinite(x):
            out.append(x)
        else:
            keep = ~absent[i]
            out.append(_xirr_bracketed(amounts[i][keep], years[keep]))
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
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _xirr_rows(a[None, :], years.tolist())[0]


# --------------------------------------------------------------------------- metrics

_FLAT = 1e-12
"""A row whose deviation is below this share of its mean may be constant (round-off of the
mean leaves a deviation near 1e-16 of it): such rows are checked value by value."""


def _mean_std(
    x: FloatArray, left_out: BoolArray | None, n: FloatArray | float
) -> tuple[FloatArray, list[float]]:
    """Row means and sample (ddof=1) deviations; exactly 0 deviation for a constant row.

    ``left_out`` marks the rows whose ``x[:, 0]`` is no value (that slot must hold 0); None
    when every slot counts. Callers ignore NumPy's division warnings.
    """
    mean = x.sum(axis=1) / n
    dev = x - mean[:, None]
    if left_out is not None:
        dev[left_out, 0] = 0.0
    np.square(dev, out=dev)
    return mean, _std(x, dev, mean, left_out, n)


def _std(
    x: FloatArray,
    squares: FloatArray,
    mean: FloatArray,
    left_out: BoolArray | None,
    n: FloatArray | float,
) -> list[float]:
    """Row sample deviations from ``squares``, the squared deviations of ``x`` from its row
    ``mean``s (see `_mean_std`)."""
    std: list[float] = np.sqrt(squares.sum(axis=1) / (n - 1.0)).tolist()
    for i, (mu, sigma) in enumerate(zip(mean.tolist(), std, strict=True)):
        if sigma <= _FLAT * abs(mu):
            row = x[i, 1:] if left_out is not None and left_out[i] else x[i]
            if row.max() == row.min():
                std[i] = 0.0
    return std


def _drawdowns(r: FloatArray) -> tuple[list[float], list[float], list[int], list[int]]:
    """Per row: the growth of 1 over the whole series, the maximum drawdown, and the columns of
    its peak and trough on the index (column ``k`` is the close of day ``k - 1``, column 0 the
    base before the first return)."""
    s_count, n_days = r.shape
    index = np.empty((s_count, n_days + 1))
    index[:, 0] = 1.0
    growing = index[:, 1:]
    np.add(r, 1.0, out=growing)
    np.cumprod(growing, axis=1, out=growing)
    run_max = np.maximum.accumulate(index, axis=1)
    drawdown = index / run_max
    drawdown -= 1.0
    trough = drawdown.argmin(axis=1)
    rows = np.arange(s_count)
    worst = drawdown[rows, trough].tolist()
    troughs = trough.tolist()
    # The peak: the last column up to the trough where the index stood at that maximum.
    peaks = [
        int((index[i, : k + 1] == top).nonzero()[0][-1]) if dd < 0.0 else 0
        for i, (k, top, dd) in enumerate(
            zip(troughs, run_max[rows, trough].tolist(), worst, strict=True)
        )
    ]
    return index[:, -1].tolist(), worst, peaks, troughs


@dataclass(frozen=True, slots=True)
class _Paired:
    """Row statistics of the portfolio's and the benchmark's returns on days 1 .. N-1; the
    benchmark's lists have one entry when one benchmark serves every row."""

    mean_r: list[float]
    products: list[float]
    """Sum over the days of the portfolio's return times the benchmark's less its mean."""
    mean_b: list[float]
    std_b: list[float]
    first_b: list[float]
    last_b: list[float]


def _paired(r: FloatArray, b_vals: FloatArray) -> _Paired:
    m = float(r.shape[1] - 1)
    b = np.empty((b_vals.shape[0], r.shape[1] - 1))
    _ratio_less_one(b_vals[:, 1:], b_vals[:, :-1], out=b)
    mean_b = b.sum(axis=1) / m
    b_dev = b - mean_b[:, None]
    std_b = _std(b, b_dev * b_dev, mean_b, None, m)
    rp = r[:, 1:]
    # The covariance needs only one side centred (as empyrical's beta has it).
    return _Paired(
        (rp.sum(axis=1) / m).tolist(),
        (rp * b_dev).sum(axis=1).tolist(),
        mean_b.tolist(),
        std_b,
        b_vals[:, 0].tolist(),
        b_vals[:, -1].tolist(),
    )


def _mwr(
    v: FloatArray, f: FloatArray, left_out: BoolArray | None, days: _Dates
) -> list[float | None]:
    """The XIRR of every row's flows (see the module docstring): only the first and the last
    day and the days with a flow in some row carry an amount."""
    flowing = np.asarray(f.any(axis=0))
    flowing[0] = flowing[-1] = True
    cols = flowing.nonzero()[0]
    amounts = f[:, cols]
    np.negative(amounts, out=amounts)
    if left_out is not None:  # the opening value is the first investment
        amounts[left_out, 0] = -v[left_out, 0]
    amounts[:, -1] += v[:, -1]
    day = days.day_numbers(cols)
    return _xirr_rows(amounts, [(d - day[0]) / DAYS_PER_YEAR for d in day])


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
