"""flint.portfolio.metrics: hand-worked cases, and agreement with empyrical, quantstats, pyxirr.

Which library checks which metric (all on the series ``daily_returns`` gives, to a relative 1e-9;
an absolute 1e-12 floor absorbs round-off on figures that are close to 0):

* twr: empyrical ``cum_returns_final(r)``, quantstats ``stats.comp(r)``.
* annualized_return: empyrical ``annual_return(r)`` (period daily = 252), quantstats
  ``stats.cagr(r, periods=252)`` (years = count / periods, the same convention).
* volatility: empyrical ``annual_volatility(r)`` (ddof 1, x sqrt(252)), quantstats
  ``stats.volatility(r, periods=252, annualize=True)``.
* sharpe: empyrical ``sharpe_ratio(r, risk_free=rf_daily)`` (it takes a daily rate), quantstats
  ``stats.sharpe(r, rf=rf_annual, periods=252, smart=False)`` (it de-annualises rf exactly as we
  do: ``(1 + rf) ** (1/252) - 1``).
* sortino: empyrical ``sortino_ratio(r, required_return=rf_daily)``, quantstats
  ``stats.sortino(r, rf=rf_annual, periods=252, smart=False)``: both use the downside deviation
  over ALL periods, ``sqrt(sum(min(x, 0) ** 2) / n)``, as we do.
* max_drawdown: empyrical ``max_drawdown(r)``, quantstats ``stats.max_drawdown(r)`` (both start
  the index at 1 the day before the first return).
* beta: empyrical ``beta(r, b)``, quantstats ``stats.greeks(r, b)["beta"]``.
* alpha: empyrical ``alpha(r, b, risk_free=rf_daily)`` only: quantstats' ``greeks`` alpha is the
  arithmetic ``(mean(r) - beta * mean(b)) * 252`` with no risk-free rate, a different definition.
* mwr / xirr: ``pyxirr.xirr(dates, amounts)`` (actual/365 by default), see ``check_xirr``.

Where our figure is None (a zero deviation), the libraries return NaN, +-inf, or, where pandas'
deviation of a constant series leaves a round-off residue, a huge ratio; that is what is checked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
import pyxirr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flint.portfolio import _xirr
from flint.portfolio.metrics import Metrics, compute, compute_many, daily_returns, xirr
from tests.references import GROUP, Deferred

pd = Deferred("pandas")
qs = Deferred("quantstats")
ep = Deferred("empyrical")

pytestmark = pytest.mark.xdist_group(GROUP)

REL = 1e-9
ABS = 1e-12

D = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4), dt.date(2024, 1, 5)]


def approx(x: float) -> Any:
    return pytest.approx(x, rel=REL, abs=ABS)


# --------------------------------------------------------------------------- hand-worked


def test_deposit_mid_way() -> None:
    # Day 0 opens with 100 -> 110 (+10%); day 1 -> 99 (-10%); day 2 a deposit of 50 at the
    # start of the day, 149 -> 178.8 (+20%); day 3 -> 169.86 (-5%).
    values = [110.0, 99.0, 178.8, 169.86]
    flows = [100.0, 0.0, 50.0, 0.0]
    r = daily_returns(values, flows)
    assert r == pytest.approx([0.1, -0.1, 0.2, -0.05], rel=1e-13)

    m = compute(values, flows, D)
    assert m.twr == pytest.approx(1.1 * 0.9 * 1.2 * 0.95 - 1, rel=1e-12)  # 0.1286
    assert m.annualized_return == pytest.approx(1.1286**63 - 1, rel=1e-12)  # 252 / 4 = 63
    # mean 0.0375, squared deviations sum to 0.056875
    assert m.volatility == pytest.approx(math.sqrt(0.056875 / 3 * 252), rel=1e-12)
    assert m.sharpe == pytest.approx(0.0375 / math.sqrt(0.056875 / 3) * math.sqrt(252), rel=1e-12)
    # downside deviation sqrt((0.1^2 + 0.05^2) / 4)
    assert m.sortino == pytest.approx(0.0375 / math.sqrt(0.0125 / 4) * math.sqrt(252), rel=1e-12)
    # index 1 -> 1.1 -> 0.99 -> 1.188 -> 1.1286: worst is 0.99 / 1.1 - 1 = -10%
    assert m.max_drawdown == pytest.approx(-0.1, rel=1e-12)
    assert m.max_drawdown_start == D[0]
    assert m.max_drawdown_end == D[1]
    assert m.beta is None
    assert m.alpha is None
    assert m.benchmark_return is None
    # investor: -100 on Jan 2, -50 on Jan 4, +169.86 on Jan 5
    assert m.mwr is not None
    npv = -100 - 50 * (1 + m.mwr) ** (-2 / 365) + 169.86 * (1 + m.mwr) ** (-3 / 365)
    assert npv == pytest.approx(0.0, abs=1e-9)
    assert m.mwr == pytest.approx(pyxirr.xirr([D[0], D[2], D[3]], [-100.0, -50.0, 169.86]), rel=REL)


def test_flat_series() -> None:
    m = compute([100.0] * 4, [100.0, 0.0, 0.0, 0.0], D)
    assert m.twr == 0.0
    assert m.annualized_return == 0.0
    assert m.volatility == 0.0
    assert m.sharpe is None
    assert m.sortino is None
    assert m.max_drawdown == 0.0
    assert m.max_drawdown_start is None
    assert m.max_drawdown_end is None
    assert m.mwr == pytest.approx(0.0, abs=1e-12)


def test_opening_value_without_flow_has_no_day0_return() -> None:
    values = [200.0, 220.0, 198.0]
    flows = [0.0, 0.0, 0.0]
    assert daily_returns(values, flows) == pytest.approx([0.1, -0.1], rel=1e-13)
    m = compute(values, flows, D[:3])
    assert m.twr == pytest.approx(-0.01, rel=1e-12)
    assert m.annualized_return == pytest.approx(0.99**126 - 1, rel=1e-12)
    assert m.volatility == pytest.approx(math.sqrt(0.02 * 252), rel=1e-12)  # var (0.1^2*2)/1
    assert m.sharpe == pytest.approx(0.0, abs=1e-12)
    assert m.max_drawdown == pytest.approx(-0.1, rel=1e-12)
    assert (m.max_drawdown_start, m.max_drawdown_end) == (D[1], D[2])
    # -200 on Jan 2 (the opening value), +198 on Jan 4: (198 / 200) ** (365 / 2) - 1
    assert m.mwr == pytest.approx(0.99 ** (365 / 2) - 1, rel=1e-9)


def test_drawdown_on_first_day_is_dated_from_the_base() -> None:
    m = compute([90.0, 99.0, 80.0], [100.0, 0.0, 0.0], D[:3])
    # index 1 -> 0.9 -> 0.99 -> 0.8: the peak is the base, dated on day 0
    assert m.max_drawdown == pytest.approx(-0.2, rel=1e-12)
    assert (m.max_drawdown_start, m.max_drawdown_end) == (D[0], D[2])


def test_zero_denominator_gives_zero_return_and_withdrawal() -> None:
    # empty account for two days, a deposit of 100, then +10%
    r = daily_returns([0.0, 0.0, 100.0, 110.0], [0.0, 0.0, 100.0, 0.0])
    assert r.tolist() == [0.0, 0.0, pytest.approx(0.1, rel=1e-13)]
    # a withdrawal of 50 at the start of day 1 leaves 50 invested: 50 -> 50 is 0%
    r = daily_returns([100.0, 50.0, 55.0], [100.0, -50.0, 0.0])
    assert r == pytest.approx([0.0, 0.0, 0.1], abs=1e-15)


def test_decimal_inputs() -> None:
    values = [Decimal("110"), Decimal("99"), Decimal("178.8"), Decimal("169.86")]
    flows = [Decimal("100"), Decimal("0"), Decimal("50"), Decimal("0")]
    assert compute(values, flows, D) == compute(
        [float(x) for x in values], [float(x) for x in flows], D
    )


def test_benchmark_beta_alpha_by_hand() -> None:
    # b = +1%, -2%, +3%; the portfolio returns exactly 2 b every day
    bench = np.array([100.0, 101.0, 98.98, 101.9494])
    b = bench[1:] / bench[:-1] - 1
    values = np.concatenate([[1000.0], 1000.0 * np.cumprod(1 + 2 * b)])
    m = compute(values, [0.0] * 4, D, benchmark_values=bench, risk_free=0.05)
    assert m.beta == pytest.approx(2.0, rel=1e-12)
    # r - rf - 2 (b - rf) = rf every day, so alpha is the annual risk-free rate itself
    assert m.alpha == pytest.approx(0.05, rel=1e-9)
    assert m.benchmark_return == pytest.approx(0.019494, rel=1e-12)

    flat = compute(values, [0.0] * 4, D, benchmark_values=[5.0] * 4)
    assert (flat.beta, flat.alpha, flat.benchmark_return) == (None, None, 0.0)


def test_too_short_series() -> None:
    m = compute([110.0], [100.0], D[:1])
    assert m.twr == pytest.approx(0.1)
    assert (m.volatility, m.sharpe, m.sortino) == (None, None, None)
    empty = compute([], [], [])
    assert empty == Metrics(*([None] * 12))
    one_value = compute([100.0], [0.0], D[:1])
    assert one_value.twr is None
    assert one_value.max_drawdown is None


def test_xirr_known_and_degenerate() -> None:
    assert xirr([-100.0, 110.0], [dt.date(2023, 1, 1), dt.date(2024, 1, 1)]) == pytest.approx(
        0.1, rel=1e-12
    )
    assert xirr([100.0, 110.0], [dt.date(2023, 1, 1), dt.date(2024, 1, 1)]) is None
    assert xirr([-100.0, -10.0], [dt.date(2023, 1, 1), dt.date(2024, 1, 1)]) is None
    assert xirr([-100.0, 0.0], [dt.date(2023, 1, 1), dt.date(2024, 1, 1)]) is None
    assert xirr([-100.0, 110.0], [dt.date(2023, 1, 1), dt.date(2023, 1, 1)]) is None
    assert xirr([], []) is None
    # a near-total loss and a huge gain still converge
    assert xirr([-100.0, 1e-6], [dt.date(2023, 1, 1), dt.date(2024, 1, 1)]) == pytest.approx(
        1e-8 - 1, rel=1e-9
    )
    assert xirr([-1.0, 2.0], [dt.date(2023, 1, 1), dt.date(2023, 1, 31)]) == pytest.approx(
        2 ** (365 / 30) - 1, rel=1e-9
    )


# --------------------------------------------------------------------------- libraries


def build_series(
    r: np.ndarray, rng: np.random.Generator, opening: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Values and flows whose daily returns are ``r`` (up to round-off), with random flows."""
    n = len(r) + (1 if opening else 0)
    flows = np.zeros(n)
    flows[0] = 0.0 if opening else 1000.0
    values = np.empty(n)
    prev = 0.0
    start = 0
    if opening:
        values[0] = 1000.0
        prev = 1000.0
        start = 1
    for t in range(start, n):
        if t > 0:
            u = rng.random()
            if u < 0.05:
                flows[t] = round(float(rng.uniform(0, 500)), 2)
            elif u < 0.08:
                flows[t] = -round(float(rng.uniform(0, 0.5) * prev), 2)
        values[t] = (prev + flows[t]) * (1 + r[t - start])
        prev = values[t]
    return values, flows


def check(ours: float | None, theirs: Any) -> None:
    theirs = float(theirs)
    if ours is None:
        assert not math.isfinite(theirs) or abs(theirs) > 1e6, theirs
    else:
        assert ours == approx(theirs)


def check_xirr(ours: float | None, dates: list[dt.date], amounts: np.ndarray) -> None:
    """``ours`` against pyxirr.xirr, to 1e-7 raw and to 1e-9 after one Newton step.

    pyxirr 0.10.8 stops once |NPV| is below about 1e-5 money units, which leaves its rate up to
    ~1e-8 (relative) from the root; one Newton step on pyxirr's own ``xnpv`` from pyxirr's
    answer takes it to the root, and that is what must agree to 1e-9.  Where pyxirr finds
    nothing (it gives up near -100%), our rate must still zero pyxirr's ``xnpv``, relative to the
    sum of the discounted absolute amounts.
    """
    theirs = pyxirr.xirr(dates, amounts)
    if theirs is None:
        if ours is not None:
            years = np.array([(d - dates[0]).days for d in dates]) / 365
            scale = float((np.abs(amounts) * (1 + ours) ** -years).sum())
            assert abs(pyxirr.xnpv(ours, dates, amounts)) <= 1e-9 * scale
        return
    assert ours is not None
    assert ours == pytest.approx(theirs, rel=1e-7, abs=ABS)
    h = 1e-6 * (1 + theirs)
    slope = (pyxirr.xnpv(theirs + h, dates, amounts) - pyxirr.xnpv(theirs - h, dates, amounts)) / (
        2 * h
    )
    # A flat NPV (no slope to step along) leaves pyxirr's answer as it is.
    polished = theirs - pyxirr.xnpv(theirs, dates, amounts) / slope if slope else theirs
    assert ours == pytest.approx(polished, rel=REL, abs=ABS)


def check_against_libraries(
    values: np.ndarray,
    flows: np.ndarray,
    bench: np.ndarray,
    rf_annual: float,
) -> None:
    n_days = len(values)
    dates = pd.bdate_range("2014-01-02", periods=n_days)
    m = compute(values, flows, dates.date, benchmark_values=bench, risk_free=rf_annual)
    r_arr = daily_returns(values, flows)
    r = pd.Series(r_arr, index=dates[n_days - len(r_arr) :])
    rf_daily = (1 + rf_annual) ** (1 / 252) - 1

    check(m.twr, ep.cum_returns_final(r_arr))
    check(m.twr, qs.stats.comp(r))
    check(m.annualized_return, ep.annual_return(r_arr))
    check(m.annualized_return, qs.stats.cagr(r, periods=252))
    check(m.volatility, ep.annual_volatility(r_arr))
    check(m.volatility, qs.stats.volatility(r, periods=252, annualize=True))
    check(m.sharpe, ep.sharpe_ratio(r_arr, risk_free=rf_daily))
    check(m.sharpe, qs.stats.sharpe(r, rf=rf_annual, periods=252, annualize=True, smart=False))
    check(m.sortino, ep.sortino_ratio(r_arr, required_return=rf_daily))
    check(m.sortino, qs.stats.sortino(r, rf=rf_annual, periods=252, annualize=True, smart=False))
    check(m.max_drawdown, ep.max_drawdown(r_arr))
    check(m.max_drawdown, qs.stats.max_drawdown(r))

    b_arr = bench[1:] / bench[:-1] - 1
    rp = r_arr[len(r_arr) - len(b_arr) :]
    check(m.beta, ep.beta(rp, b_arr))
    check(m.alpha, ep.alpha(rp, b_arr, risk_free=rf_daily))
    if m.beta is not None:
        greeks = qs.stats.greeks(pd.Series(rp, index=dates[1:]), pd.Series(b_arr, index=dates[1:]))
        check(m.beta, greeks["beta"])
    check(m.benchmark_return, bench[-1] / bench[0] - 1)

    # mwr from the same flows, by pyxirr
    amounts = -flows.copy()
    if flows[0] <= 0:
        amounts[0] = -values[0]
    amounts[-1] += values[-1]
    check_xirr(m.mwr, list(dates.date), amounts)


returns_strategy = st.lists(
    st.floats(-0.2, 0.2, allow_nan=False, allow_subnormal=False).map(lambda x: round(x, 6)),
    min_size=20,
    max_size=600,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    r=returns_strategy,
    seed=st.integers(0, 2**32 - 1),
    opening=st.booleans(),
    rf_annual=st.sampled_from([0.0, 0.03]),
)
def test_agrees_with_libraries(r: list[float], seed: int, opening: bool, rf_annual: float) -> None:
    rng = np.random.default_rng(seed)
    values, flows = build_series(np.array(r), rng, opening)
    bench = 100 * np.cumprod(np.concatenate([[1.0], 1 + rng.normal(0.0003, 0.01, len(values) - 1)]))
    check_against_libraries(values, flows, bench, rf_annual)


def test_ten_year_series_agrees_with_libraries() -> None:
    rng = np.random.default_rng(20240102)
    market = rng.normal(0.0003, 0.011, 2520)
    r = 0.0001 + 1.1 * market + rng.normal(0, 0.006, 2520)
    values, flows = build_series(r, rng, opening=False)
    bench = 100 * np.cumprod(np.concatenate([[1.0], 1 + market[1:]]))
    check_against_libraries(values, flows, bench, 0.02)
    check_against_libraries(values, flows, bench, 0.0)


def test_mwr_matches_pyxirr_on_random_schedules() -> None:
    rng = np.random.default_rng(7)
    start = dt.date(2015, 3, 2)
    for _ in range(200):
        k = int(rng.integers(2, 40))
        offsets = np.sort(rng.choice(3650, size=k, replace=False))
        dates = [start + dt.timedelta(days=int(o)) for o in offsets]
        amounts = -rng.uniform(1, 1000, k)
        withdrawals = rng.random(k) < 0.2
        amounts[withdrawals] = rng.uniform(1, 200, withdrawals.sum())
        amounts[0] = -rng.uniform(100, 5000)
        amounts[-1] = rng.uniform(0, 2) * -amounts[amounts < 0].sum()
        check_xirr(xirr(amounts, dates), dates, amounts)


def test_xirr_bracketing_fallback_matches_pyxirr(monkeypatch: pytest.MonkeyPatch) -> None:
    # No Newton step at all: every rate comes from the bracketing search and bisection.
    monkeypatch.setattr(_xirr, "_XIRR_MAX_NEWTON", 0)
    rng = np.random.default_rng(11)
    start = dt.date(2016, 1, 4)
    for _ in range(20):
        k = int(rng.integers(2, 30))
        offsets = np.sort(rng.choice(3000, size=k, replace=False))
        dates = [start + dt.timedelta(days=int(o)) for o in offsets]
        amounts = -rng.uniform(1, 1000, k)
        amounts[-1] = rng.uniform(0.2, 2) * -amounts[:-1].sum()
        check_xirr(xirr(amounts, dates), dates, amounts)


# --------------------------------------------------------------------------- batching


def test_compute_many_equals_compute_row_by_row() -> None:
    rng = np.random.default_rng(3)
    n_days, series = 300, 25
    dates = pd.bdate_range("2020-01-01", periods=n_days).date
    values = np.empty((series, n_days))
    flows = np.empty((series, n_days))
    for i in range(series):
        r = rng.normal(0.0003, 0.012, n_days)
        opening = i % 3 == 0
        v, f = build_series(r[: n_days - 1] if opening else r, rng, opening)
        values[i], flows[i] = v, f
    values[5] = 100.0  # flat
    flows[5] = 0.0
    flows[5, 0] = 100.0
    shared = 100 * np.cumprod(1 + rng.normal(0.0002, 0.01, n_days))
    per_row = 100 * np.cumprod(1 + rng.normal(0.0002, 0.01, (series, n_days)), axis=1)

    for bench in (None, shared, per_row):
        many = compute_many(values, flows, dates, benchmark_values=bench, risk_free=0.01)
        assert len(many) == series
        for i, got in enumerate(many):
            row_bench = None if bench is None else (bench if bench.ndim == 1 else bench[i])
            one = compute(values[i], flows[i], dates, benchmark_values=row_bench, risk_free=0.01)
            assert got == one


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="same length"):
        daily_returns([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="S, N"):
        compute_many(np.ones((2, 3)), np.ones((2, 3)), D[:2])
    with pytest.raises(ValueError, match="benchmark"):
        compute_many(np.ones((2, 3)), np.ones((2, 3)), D[:3], benchmark_values=np.ones((3, 3)))


def test_a_row_does_not_depend_on_the_rows_beside_it() -> None:
    # Rows with two flows (solved in Python floats), with dozens (solved in NumPy), without a
    # day-0 return, flat, and with a total loss, batched in different company: every row's
    # figures stay the same to the bit, and equal compute()'s.
    rng = np.random.default_rng(29)
    n_days = 400
    dates = list(pd.bdate_range("2019-01-02", periods=n_days).date)
    rows = []
    for kind in range(12):
        r = rng.normal(0.0004, 0.015, n_days)
        opening = kind % 3 == 0
        values, flows = build_series(r[1:] if opening else r, rng, opening)
        if kind % 4 == 1:  # only the opening deposit and the final value
            values = 1000 * np.cumprod(1 + r)
            flows = np.zeros(n_days)
            flows[0] = 1000.0
        if kind == 6:
            values, flows = np.full(n_days, 100.0), np.zeros(n_days)
            flows[0] = 100.0
        if kind == 7:
            values[n_days // 2 :] = 0.0
        rows.append((values, flows))
    values = np.stack([v for v, _ in rows])
    flows = np.stack([f for _, f in rows])
    bench = 100 * np.cumprod(1 + rng.normal(0.0002, 0.01, n_days))
    alone = [compute(v, f, dates, bench, 0.02) for v, f in rows]
    assert sum(m.mwr is not None for m in alone) >= 10
    for order in (np.arange(12), rng.permutation(12), np.array([3, 1, 7])):
        together = compute_many(values[order], flows[order], dates, bench, 0.02)
        assert together == [alone[i] for i in order]


def test_time_weighted_only_leaves_out_the_xirr() -> None:
    rng = np.random.default_rng(31)
    values, flows = build_series(rng.normal(0.0004, 0.012, 300), rng, opening=False)
    dates = pd.bdate_range("2021-01-04", periods=300).date
    full = compute(values, flows, dates)
    twr_only = compute(values, flows, dates, money_weighted=False)
    assert full.mwr is not None
    assert twr_only.mwr is None
    assert dataclasses.replace(full, mwr=None) == twr_only
