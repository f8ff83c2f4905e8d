"""``metrics_speed``: Flint's whole metric set against empyrical and quantstats, same inputs,
same process.

Inputs: 500 seeded random series of 2,520 daily returns (ten years), turned into values with
a deposit on the first day, and a benchmark series. Each side computes the same set where the
libraries have it: total return, annualised return, volatility, Sharpe, Sortino, maximum
drawdown, beta and alpha (empyrical's and quantstats' functions per series, on the daily
returns; Flint's ``compute_many`` on the values and flows, from which it works out the returns
itself). Two Flint sets are timed:

* full: everything ``compute_many`` gives, the XIRR (money-weighted return) included, which
  neither library computes;
* like-for-like: ``money_weighted=False``, the XIRR left out. Flint still works out the
  returns, the drawdown's dates and the benchmark's return, which the libraries are not asked
  for, so this set still favours the libraries.

The sides take turns within each round (Flint, empyrical, quantstats, then again), garbage
collection off while a side runs, and the best round counts; one series is timed over a batch
of calls per round. Entries: ``metrics_speed.<library>[.like_for_like][.one_series]``, each the
library's time over Flint's; targets ≥ 5 against quantstats and ≥ 1 against empyrical, for the
500 series and for one. Agreement is checked on the way: every series' figures agree with
empyrical's and quantstats' to 1e-9 relative (1e-12 absolute near 0; quantstats' alpha is a
different definition and is not compared), or the benchmark is an error.
"""

from __future__ import annotations

import gc
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bench._common import Result, say

SERIES = 500
DAYS = 2520
ROUNDS = 3
"""Rounds over the 500 series (quantstats needs some 15 s a round)."""
ONE_ROUNDS = 25
ONE_BATCH = 40
"""Calls per round for one series, whose call lasts well under a millisecond (a tenth of
that for quantstats, whose call lasts some 25 ms)."""
QUANTSTATS_TARGET = 5.0
EMPYRICAL_TARGET = 1.0
REL = 1e-9
ABS = 1e-12
NAMES = ("twr", "annualized_return", "volatility", "sharpe", "sortino", "max_drawdown")


def _race(sides: dict[str, tuple[Callable[[], Any], int]], rounds: int) -> dict[str, float]:
    """Best seconds per call of each side (a call and how many of them make its batch) over
    ``rounds`` rounds, the sides taking turns within each round."""
    best = dict.fromkeys(sides, math.inf)
    enabled = gc.isenabled()
    try:
        for _ in range(rounds):
            for name, (call, batch) in sides.items():
                gc.collect()
                gc.disable()
                started = time.perf_counter()
                for _ in range(batch):
                    call()
                best[name] = min(best[name], (time.perf_counter() - started) / batch)
                if enabled:
                    gc.enable()
    finally:
        if enabled:
            gc.enable()
    return best


def _deviation(ours: float | None, theirs: float) -> float:
    """How far ``ours`` is from ``theirs``, in units of the allowed difference (1 is the
    limit); a figure Flint leaves undefined must be undefined (or absurd) for the library."""
    if ours is None:
        return 0.0 if not math.isfinite(theirs) or abs(theirs) > 1e6 else math.inf
    return abs(ours - theirs) / max(REL * abs(theirs), ABS)


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

    r = np.stack([daily_returns(values[i], flows[i]) for i in range(SERIES)])
    b = np.concatenate([[np.nan], bench[1:] / bench[:-1] - 1])
    bench_series = pd.Series(b, index=dates).iloc[1:]
    return_series = [pd.Series(r[i], index=dates) for i in range(SERIES)]

    def flint(rows: int, money_weighted: bool) -> list[Any]:
        return compute_many(
            values[:rows], flows[:rows], day_list, bench, money_weighted=money_weighted
        )

    def empyrical(rows: int) -> list[list[float]]:
        out = []
        for i in range(rows):
            row = r[i]
            out.append(
                [
                    ep.cum_returns_final(row),
                    ep.annual_return(row),
                    ep.annual_volatility(row),
                    ep.sharpe_ratio(row),
                    ep.sortino_ratio(row),
                    ep.max_drawdown(row),
                    ep.beta(row[1:], b[1:]),
                    ep.alpha(row[1:], b[1:]),
                ]
            )
        return out

    def quantstats(rows: int) -> list[list[float]]:
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(rows):
                row = return_series[i]
                greeks = qs.stats.greeks(row.iloc[1:], bench_series, periods=252)
                out.append(
                    [
                        qs.stats.comp(row),
                        qs.stats.cagr(row, periods=252),
                        qs.stats.volatility(row, periods=252),
                        qs.stats.sharpe(row, periods=252, smart=False),
                        qs.stats.sortino(row, periods=252, smart=False),
                        qs.stats.max_drawdown(row),
                        greeks["beta"],
                    ]
                )
        return out

    agreement = _agreement(flint(SERIES, True), empyrical(SERIES), quantstats(SERIES))
    say(f"agreement (1 = the 1e-9 limit): {agreement}")

    results: list[Result] = []
    for rows, label, rounds, batch in (
        (SERIES, "", ROUNDS, 1),
        (1, ".one_series", ONE_ROUNDS, ONE_BATCH),
    ):
        say(f"{rows} series x {DAYS} days, {rounds} rounds")
        best = _race(
            {
                "flint": (lambda rows=rows: flint(rows, True), batch),
                "flint_like_for_like": (lambda rows=rows: flint(rows, False), batch),
                "empyrical": (lambda rows=rows: empyrical(rows), batch),
                "quantstats": (lambda rows=rows: quantstats(rows), max(1, batch // 10)),
            },
            rounds,
        )
        say("  " + ", ".join(f"{name} {seconds * 1e3:.3f} ms" for name, seconds in best.items()))
        common = {
            "series": rows,
            "days": DAYS,
            "rounds": rounds,
            "calls_per_round": {"quantstats": max(1, batch // 10), "others": batch},
            **{f"{name}_seconds": round(seconds, 6) for name, seconds in best.items()},
            "agreement_in_units_of_1e-9": agreement,
        }
        for flint_side, set_label, meaning in (
            (
                "flint",
                "",
                "full set: Flint also computes the XIRR (mwr), the drawdown dates and the "
                "benchmark return, and its returns from values and flows",
            ),
            (
                "flint_like_for_like",
                ".like_for_like",
                "like-for-like: the XIRR left out (money_weighted=False); Flint still computes "
                "the drawdown dates and the benchmark return, and its returns from values and "
                "flows",
            ),
        ):
            for library, target in (
                ("quantstats", QUANTSTATS_TARGET),
                ("empyrical", EMPYRICAL_TARGET),
            ):
                results.append(
                    Result(
                        f"metrics_speed.{library}{set_label}{label}",
                        round(best[flint_side], 6),
                        "s",
                        round(best[library], 6),
                        round(best[library] / best[flint_side], 3),
                        target,
                        {**common, "set": meaning},
                    )
                )
    return results


def _agreement(
    ours: list[Any], emp: list[list[float]], qs: list[list[float]]
) -> dict[str, dict[str, float]]:
    """The largest deviation of each figure from each library over every series, in units of
    the allowed difference; raises when one passes 1."""
    worst: dict[str, dict[str, float]] = {"empyrical": {}, "quantstats": {}}
    for i, metrics in enumerate(ours):
        mine = [getattr(metrics, name) for name in NAMES] + [metrics.beta, metrics.alpha]
        for library, theirs, names in (
            ("empyrical", emp[i], [*NAMES, "beta", "alpha"]),
            ("quantstats", qs[i], [*NAMES, "beta"]),
        ):
            for name, a, t in zip(names, mine, theirs, strict=False):
                d = _deviation(a, float(t))
                if d > 1.0:
                    raise RuntimeError(f"series {i}: {name} {a} against {library}'s {t}")
                worst[library][name] = max(worst[library].get(name, 0.0), round(d, 6))
    return worst
