"""`metrics`' time-weighted daily returns, flows at the start of the day (the conventions are in
`flint.portfolio.metrics`)."""

from __future__ import annotations

import numpy as np

from flint.portfolio._series import ArrayLike, BoolArray, FloatArray, _as_float


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
    """Time-weighted daily returns, flows at the start of the day (see `flint.portfolio.metrics`).

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
