"""Charts of a portfolio's performance, drawn with matplotlib's Agg backend (no display);
imported only when a chart is drawn (`charts.draw`).

Each chart is a new ``Figure`` (not pyplot's global state), drawn under matplotlib's own
default style (`_STYLE`) whatever the process's global ``rcParams`` hold: a library that
restyles matplotlib when imported (quantstats sets a seaborn theme: no tick marks, other fonts
and colours) changes no chart. The style is global to matplotlib, so one chart is drawn at a
time per process (`_DRAWING`). SVG text is written as text (``<text>``), not as
glyph outlines, so a chart's title, labels and dates can be read, searched and copied.
Amounts are read with ``float()``, which takes a JSON number, a ``Decimal`` or a decimal
string alike.
"""

from __future__ import annotations

import bisect
import io
import threading
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import matplotlib
import numpy as np
import numpy.typing as npt

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.style
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from flint.portfolio.performance_schemas import ChartFormat as Format
from flint.portfolio.performance_schemas import ChartKind as Kind

_STYLE: list[str | dict[str, Any]] = [
    "default",
    {
        "svg.fonttype": "none",  # text stays text in SVG
        "svg.hashsalt": "flint",  # the same chart, the same bytes
    },
]
_DRAWING = threading.Lock()

_MARKERS: dict[str, tuple[str, str, str]] = {
    # kind: (legend label, marker, colour); buys and sells are hollow, so a deposit and a buy
    # on the same day both show.
    "deposit": ("Deposit", "^", "#2ca02c"),
    "withdrawal": ("Withdrawal", "v", "#d62728"),
    "buy": ("Buy", "o", "#9467bd"),
    "sell": ("Sell", "s", "#ff7f0e"),
}
_DAY = "%d %b %Y"
_SLICES = 8
"""The allocation pie's slices at most, the last one gathering the smallest positions."""


def _dates(series: list[dict[str, Any]]) -> npt.NDArray[np.datetime64]:
    days: list[date] = [point["date"] for point in series]
    return np.array(days, dtype="datetime64[D]")


def _floats(values: Sequence[Any]) -> npt.NDArray[np.float64]:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _money(currency: str) -> FuncFormatter:
    return FuncFormatter(lambda x, _: f"{x:,.0f} {currency}")


def _date_axis(axes: Axes, width: float) -> None:
    """Ticks that each carry a whole date ("15 Aug 2026", "Sep 2026" or "2026"), not ConciseDate's
    default of bare days with the year in a corner; as many as fit ``width`` inches."""
    most = max(3, int(width * 0.9))
    locator = mdates.AutoDateLocator(minticks=2, maxticks=most)  # type: ignore[no-untyped-call]
    formats = ["%Y", "%b %Y", _DAY, _DAY, _DAY, _DAY]
    concise = mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator, formats=formats, zero_formats=formats, show_offset=False
    )
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(concise)
    axes.set_xlabel("Date")


def marked_days(
    series: list[dict[str, Any]], marks: Sequence[tuple[date, str]]
) -> dict[str, list[int]]:
    """For each marked kind, the indexes of the series days its entries fall on (``marks`` are
    the ledger's days and types): an entry on a day without a valuation (a weekend) shows on
    the next one, where its flow is booked; entries outside the series are left out, and
    several of a kind on one day are one marker."""
    days: list[date] = [point["date"] for point in series]
    where: dict[str, set[int]] = {}
    for day, kind in marks:
        if kind not in _MARKERS or not days or day < days[0] or day > days[-1]:
            continue
        where.setdefault(kind, set()).add(bisect.bisect_left(days, day))
    return {kind: sorted(where[kind]) for kind in _MARKERS if kind in where}


def _value(
    axes: Axes,
    perf: dict[str, Any],
    marks: Sequence[tuple[date, str]],
    contributions: bool,
) -> None:
    series: list[dict[str, Any]] = perf["series"]
    currency = perf["baseCurrency"]
    days = _dates(series)
    values = _floats([p["value"] for p in series])
    axes.plot(days, values, color="#1f77b4", label="Value", gid="value")
    if contributions and len(series):
        flows = _floats([p["netFlow"] for p in series])
        # What was in the portfolio before the window counts as put in on its first day: the
        # first value less that day's flows, or nothing when the ledger starts in the window.
        held_before = any(day < series[0]["date"] for day, _ in marks)
        invested = (values[0] - flows[0] if held_before else 0.0) + np.cumsum(flows)
        axes.plot(
            days,
            invested,
            color="#7f7f7f",
            linestyle="--",
            drawstyle="steps-post",
            label="Net contributions",
            gid="net-contributions",
        )
    for kind, indexes in marked_days(series, marks).items():
        label, marker, colour = _MARKERS[kind]
        hollow = kind in ("buy", "sell")
        axes.plot(
            days[indexes],
            values[indexes],
            linestyle="none",
            marker=marker,
            markersize=9 if hollow else 7,
            markerfacecolor="none" if hollow else colour,
            markeredgecolor=colour,
            markeredgewidth=1.5,
            label=label,
            gid=f"marks-{kind}",
            zorder=3,
        )
    axes.set_ylabel(f"Value ({currency})")
    axes.yaxis.set_major_formatter(_money(currency))


def _drawdown(axes: Axes, perf: dict[str, Any]) -> None:
    series: list[dict[str, Any]] = perf["series"]
    index = [1 + float(p["cumulativeReturn"]) for p in series]
    peak, drawdowns = 0.0, []
    for level in index:
        peak = max(peak, level)
        drawdowns.append(level / peak - 1 if peak else 0.0)
    axes.fill_between(
        _dates(series), drawdowns, 0, color="#d62728", alpha=0.4, label="Drawdown", gid="drawdown"
    )
    axes.set_ylabel("Drawdown from the previous peak (%)")
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))


def _benchmark(axes: Axes, perf: dict[str, Any]) -> None:
    series: list[dict[str, Any]] = perf["series"]
    days = _dates(series)
    mine = _floats([p["cumulativeReturn"] for p in series])
    levels = _floats([p["benchmarkValue"] for p in series])
    known = levels[np.isfinite(levels) & (levels != 0)]
    theirs = levels / known[0] - 1 if known.size else np.full(len(series), np.nan)
    theirs[~np.isfinite(levels) | (levels == 0)] = np.nan
    axes.plot(days, mine, label="Portfolio (TWR)", gid="portfolio")
    axes.plot(days, theirs, label=perf["benchmark"], gid="benchmark")
    axes.set_ylabel("Cumulative return (%)")
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))


def _allocation(axes: Axes, perf: dict[str, Any]) -> None:
    """A pie of the largest positions (the rest as one "Other" slice), named in a legend with
    each one's share, so small slices never hide each other's labels."""
    held = sorted(
        ((float(a["value"]), f"{a['symbol']} ({a['assetClass']})") for a in perf["allocation"]),
        reverse=True,
    )
    held = [(value, name) for value, name in held if value > 0]
    if len(held) > _SLICES:
        rest = sum(value for value, _ in held[_SLICES - 1 :])
        held = [*held[: _SLICES - 1], (rest, f"Other ({len(held) - _SLICES + 1})")]
    if held:
        total = sum(value for value, _ in held)
        wedges, *_ = axes.pie(
            [value for value, _ in held],
            autopct=lambda share: f"{share:.1f}%" if share >= 5 else "",
            pctdistance=0.72,
            startangle=90,
            counterclock=False,
            wedgeprops={"linewidth": 1, "edgecolor": "white"},
        )
        axes.legend(
            wedges,
            [f"{name}: {value / total:.1%}".replace("$", r"\$") for value, name in held],
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncols=2,
            fontsize="small",
            frameon=False,
        )
    axes.axis("equal")


_HEADINGS: dict[str, str] = {
    "value": "value",
    "drawdown": "drawdown",
    "allocation": "allocation",
    "benchmark": "against {benchmark}",
}


NO_DAY = "No valued day in this window (its markets had no session)"


def _nothing_to_draw(axes: Axes, perf: dict[str, Any], kind: Kind) -> None:
    """A window without a valued day (a weekend's) has no line: say so, and for the value what
    the window's end is worth, on bare axes (empty ones were dated 1 January 1970)."""
    lines = [NO_DAY]
    if kind == "value":
        as_of: date = perf["asOf"]
        worth = Decimal(str(perf["marketValue"]))
        lines.append(f"Its value on {as_of:{_DAY}}: {worth:,} {perf['baseCurrency']}")
    axes.text(
        0.5, 0.5, "\n".join(lines).replace("$", r"\$"), transform=axes.transAxes,
        ha="center", va="center", color="#5b6675", gid="no-day",
    )  # fmt: skip
    axes.set_xticks([])
    axes.set_yticks([])


def _subtitle(perf: dict[str, Any], kind: Kind) -> str:
    """The period (or the day, for the allocation) and the units, under the title."""
    series: list[dict[str, Any]] = perf["series"]
    currency = perf["baseCurrency"]
    as_of: date = perf["asOf"]
    if kind == "allocation":
        total = sum(float(a["value"]) for a in perf["allocation"])
        return f"On {as_of:{_DAY}} \u00b7 {total:,.0f} {currency} \u00b7 % of value"
    units = f"in {currency}" if kind == "value" else "in %"
    if not series:
        return f"Up to {as_of:{_DAY}} \u00b7 {units}"
    first: date = series[0]["date"]
    last: date = series[-1]["date"]
    return f"{first:{_DAY}} to {last:{_DAY}} \u00b7 {units}"


def _incomplete(perf: dict[str, Any]) -> str | None:
    """A warning when the performance was computed before all prices were in."""
    status = perf.get("dataStatus")
    if not isinstance(status, dict) or status.get("complete", True):
        return None
    missing = status.get("missingSymbols") or []
    progress = status.get("progress")
    stored = f" ({progress:.0%} stored)" if isinstance(progress, int | float) else ""
    named = f"; no prices yet for {', '.join(map(str, missing[:5]))}" if missing else ""
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return f"Data incomplete: price history still loading{stored}{named}{more}"


def draw(
    perf: dict[str, Any],
    kind: Kind,
    fmt: Format,
    title: str,
    *,
    marks: Sequence[tuple[date, str]] = (),
    contributions: bool = False,
    size: tuple[float, float] = (10, 5.5),
    dpi: int = 100,
) -> bytes:
    with _DRAWING, matplotlib.style.context(_STYLE):
        return _draw(
            perf, kind, fmt, title, marks=marks, contributions=contributions, size=size, dpi=dpi
        )


def _draw(
    perf: dict[str, Any],
    kind: Kind,
    fmt: Format,
    title: str,
    *,
    marks: Sequence[tuple[date, str]],
    contributions: bool,
    size: tuple[float, float],
    dpi: int,
) -> bytes:
    title = title.replace("$", r"\$")  # a name like "$x^$" would be mathtext to matplotlib
    figure = Figure(figsize=size, dpi=dpi, layout="constrained")
    axes = figure.add_subplot()
    heading = _HEADINGS[kind].format(benchmark=perf["benchmark"]).replace("$", r"\$")
    figure.suptitle(f"{title}: {heading}", gid="title")
    axes.set_title(_subtitle(perf, kind), fontsize="small", color="#5b6675", gid="subtitle")
    warning = _incomplete(perf)
    if warning:
        axes.text(
            0.01, 0.98, warning.replace("$", r"\$"), transform=axes.transAxes, va="top",
            color="#d62728", gid="incomplete",
        )  # fmt: skip
    if kind == "allocation":
        _allocation(axes, perf)
    elif not perf["series"]:
        _nothing_to_draw(axes, perf, kind)
    else:
        if kind == "value":
            _value(axes, perf, marks, contributions)
        elif kind == "drawdown":
            _drawdown(axes, perf)
        else:
            _benchmark(axes, perf)
        _date_axis(axes, size[0])
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()
