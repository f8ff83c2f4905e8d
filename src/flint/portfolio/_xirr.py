"""`metrics`' money-weighted return: the XIRR of a series' flows, solved for many series at once
(the conventions are in `flint.portfolio.metrics`)."""

from __future__ import annotations

import math

import numpy as np

from flint.portfolio._series import (
    ArrayLike,
    BoolArray,
    DatesLike,
    FloatArray,
    _as_days,
    _as_float,
    _Dates,
)

DAYS_PER_YEAR = 365.0

_XIRR_TOL = 1e-13
"""Newton stops once its step in ``log(1 + rate)`` is below this, relative to that value where it
exceeds 1 (near a rate of e^46 the NPV's round-off alone moves the step by more than 1e-13)."""
_XIRR_MAX_NEWTON = 60
_XIRR_SHORT = 8

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


def _mwr(
    v: FloatArray, f: FloatArray, left_out: BoolArray | None, days: _Dates
) -> list[float | None]:
    """The XIRR of every row's flows (see `flint.portfolio.metrics`): only the first and the last
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
