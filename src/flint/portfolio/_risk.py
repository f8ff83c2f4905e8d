"""`metrics`' risk figures of whole rows of daily returns: mean and deviation, drawdown, and the
statistics beta and alpha are made of (the conventions are in `flint.portfolio.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flint.portfolio._returns import _ratio_less_one
from flint.portfolio._series import BoolArray, FloatArray

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
