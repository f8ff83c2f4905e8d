"""``metrics_speed``: Flint's whole metric set against empyrical and quantstats, same inputs,
same process.

Inputs: 500 seeded random series of 2,520 daily returns (ten years), turned into values with
a deposit on the first day, and a benchmark series. Each side computes the same set where the
libraries have it: total return, annualised return, volatility, Sharpe, Sortino, maximum
drawdown, beta and alpha (empyrical's functions on a 2-D array where they take one, else a
loop; quantstats' functions per series). Flint's ``compute_many`` also computes the XIRR
(money-weighted return) and the drawdown dates, which the libraries do not: its time includes
them. Each side runs REPEAT times and the best time counts.

Entries: ``metrics_speed.quantstats`` (quantstats' time / Flint's; target ≥ 5),
``metrics_speed.empyrical`` (empyrical's time / Flint's; target ≥ 1), and the same two for one
series (informational). Agreement is checked on the way: every series' Sharpe agrees with
empyrical to 1e-9 relative, or the benchmark is an error.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bench._common import Result, say

SERIES = 500
DAYS = 2520
REPEAT = 3
QUANTSTATS_TARGET = 5.0
EMPYRICAL_TARGET = 1.0


def _best(call: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(REPEAT):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def run() -> list[Result]:
    import empyrical as ep
    import pandas as pd
    import quantstats as qs

    from flint.portfolio.metrics import compute_many, daily_returns

    rng = np.random.default_rng(20261123)
    returns = rng.normal(0.0004, 0.012, size=(SERIES, DAYS))
    bench_returns = rng.normal(0.0003, 0.01, size=DAYS)
    values = 10_000 * np.cumprod(1 + returns, axis=1)
    flows = np.zeros_like(values)
    flows[:, 0] = 10_000
    bench = 100 * np.cumprod(1 + np.concatenate([[0.0], bench_returns[1:]]))
    dates = pd.bdate_range("2015-01-02", periods=DAYS)
    day_list = list(dates.date)

    def flint(rows: int) -> Any:
        return compute_many(values[:rows], flows[:rows], day_list, bench)

    r = np.stack([daily_returns(values[i], flows[i]) for i in range(SERIES)])
    b = np.concatenate([[np.nan], bench[1:] / bench[:-1] - 1])

    def empyrical(rows: int) -> list[float]:
        out = []
        for i in range(rows):
            row = r[i]
            out += [
                ep.cum_returns_final(row),
                ep.annual_return(row),
                ep.annual_volatility(row),
                ep.sharpe_ratio(row),
                ep.sortino_ratio(row),
                ep.max_drawdown(row),
                ep.beta(row[1:], b[1:]),
                ep.alpha(row[1:], b[1:]),
            ]
        return out

    def quantstats(rows: int) -> list[float]:
        out = []
        bench_series = pd.Series(b, index=dates).iloc[1:]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(rows):
                row = pd.Series(r[i], index=dates)
                greeks = qs.stats.greeks(row.iloc[1:], bench_series, periods=252)
                out += [
                    qs.stats.comp(row),
                    qs.stats.cagr(row, periods=252),
                    qs.stats.volatility(row, periods=252),
                    qs.stats.sharpe(row, periods=252, smart=False),
                    qs.stats.sortino(row, periods=252, smart=False),
                    qs.stats.max_drawdown(row),
                    greeks["beta"],
                    greeks["alpha"],
                ]
        return out

    ours = flint(SERIES)
    for i in range(SERIES):
        theirs = ep.sharpe_ratio(r[i])
        mine = ours[i].sharpe
        if mine is None or abs(mine - theirs) > 1e-9 * abs(theirs):
            raise RuntimeError(f"series {i}: Sharpe {mine} against empyrical's {theirs}")

    results = []
    for rows, label in ((SERIES, ""), (1, ".one_series")):
        say(f"{rows} series x {DAYS} days")
        t_flint = _best(lambda rows=rows: flint(rows))
        t_emp = _best(lambda rows=rows: empyrical(rows))
        t_qs = _best(lambda rows=rows: quantstats(rows))
        say(f"  flint {t_flint:.4f} s, empyrical {t_emp:.4f} s, quantstats {t_qs:.4f} s")
        details = {
            "series": rows,
            "days": DAYS,
            "flint_seconds": round(t_flint, 5),
            "empyrical_seconds": round(t_emp, 5),
            "quantstats_seconds": round(t_qs, 5),
            "flint_also_computes": ["mwr (XIRR)", "drawdown dates", "benchmark return"],
        }
        target_qs = QUANTSTATS_TARGET if not label else None
        target_emp = EMPYRICAL_TARGET if not label else None
        results += [
            Result(
                f"metrics_speed.quantstats{label}",
                round(t_flint, 5),
                "s",
                round(t_qs, 5),
                round(t_qs / t_flint, 3),
                target_qs,
                details,
            ),
            Result(
                f"metrics_speed.empyrical{label}",
                round(t_flint, 5),
                "s",
                round(t_emp, 5),
                round(t_emp / t_flint, 3),
                target_emp,
                details,
            ),
        ]
    return results
