"""Charts of a portfolio's performance, drawn with matplotlib's Agg backend (no display);
imported only when a chart is drawn (`charts.draw`).

Each chart is a new ``Figure`` (not pyplot's global state), so requests drawing at the same
time on worker threads never share anything.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import matplotlib
import numpy as np
import numpy.typing as npt

matplotlib.use("Agg")

import matplotlib.dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from flint.portfolio.schemas import ChartFormat as Format
from flint.portfolio.schemas import ChartKind as Kind


def _dates(series: list[dict[str, Any]]) -> npt.NDArray[np.datetime64]:
    days: list[date] = [point["date"] for point in series]
    return np.array(days, dtype="datetime64[D]")


def _money(currency: str) -> FuncFormatter:
    return FuncFormatter(lambda x, _: f"{x:,.0f} {currency}")


def draw(perf: dict[str, Any], kind: Kind, fmt: Format, title: str) -> bytes:
    title = title.replace("$", r"\$")  # a name like "$x^$" would be mathtext to matplotlib
    figure = Figure(figsize=(10, 5.5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    series: list[dict[str, Any]] = perf["series"]
    currency = perf["baseCurrency"]
    if kind == "allocation":
        slices = [a for a in perf["allocation"] if a["value"] > 0]
        if slices:
            axes.pie(
                [a["value"] for a in slices],
                labels=[f"{a['symbol']} ({a['assetClass']})" for a in slices],
                autopct="%1.1f%%",
                startangle=90,
                counterclock=False,
            )
        axes.set_title(f"{title}: allocation")
        axes.axis("equal")
    else:
        days = _dates(series)
        if kind == "value":
            axes.plot(days, [p["value"] for p in series], color="#1f77b4", label="Value")
            axes.set_ylabel(f"Value ({currency})")
            axes.yaxis.set_major_formatter(_money(currency))
            axes.set_title(f"{title}: value")
        elif kind == "drawdown":
            index = [1 + p["cumulativeReturn"] for p in series]
            peak, drawdowns = 0.0, []
            for level in index:
                peak = max(peak, level)
                drawdowns.append(level / peak - 1 if peak else 0.0)
            axes.fill_between(days, drawdowns, 0, color="#d62728", alpha=0.4, label="Drawdown")
            axes.set_ylabel("Drawdown")
            axes.yaxis.set_major_formatter(PercentFormatter(1.0))
            axes.set_title(f"{title}: drawdown")
        else:
            mine = [p["cumulativeReturn"] for p in series]
            base = next((p["benchmarkValue"] for p in series if p["benchmarkValue"]), None)
            theirs = np.array(
                [
                    (p["benchmarkValue"] / base - 1) if base and p["benchmarkValue"] else np.nan
                    for p in series
                ],
                dtype=np.float64,
            )
            axes.plot(days, mine, label="Portfolio (TWR)")
            axes.plot(days, theirs, label=perf["benchmark"])
            axes.set_ylabel("Cumulative return")
            axes.yaxis.set_major_formatter(PercentFormatter(1.0))
            axes.set_title(f"{title}: against {perf['benchmark']}")
        axes.set_xlabel("Date")
        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(locator)
        concise = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_formatter(concise)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best")
    status = perf.get("dataStatus") or {}
    if status.get("complete") is False:  # a fresh import's history is still being stored
        figure.text(
            0.995,
            0.005,
            f"Data incomplete: price history still loading ({status['progress']:.0%} stored)",
            ha="right",
            va="bottom",
            fontsize=8,
            color="#b03a2e",
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()
