"""Charts of a portfolio's performance: value, drawdown, allocation or against the benchmark,
as PNG or SVG.

What the charts show: `DESCRIPTION`.

matplotlib takes a second or more to import, and most processes never draw a chart: it is
imported on the first one (`plotting`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any, Protocol

from flint.portfolio.performance_schemas import ChartFormat as Format
from flint.portfolio.performance_schemas import ChartKind as Kind

__all__ = ["DESCRIPTION", "MARKED", "MEDIA_TYPES", "Format", "Kind", "draw", "marks_of"]

MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
MARKED = ("deposit", "withdrawal", "buy", "sell")
"""The ledger's transaction types the value chart marks."""

DESCRIPTION = (
    "Every chart has a title (the portfolio and the kind), a subtitle with its period and "
    "units, labelled axes and whole dates on its ticks. The `value` chart marks the days of the "
    "ledger's deposits, withdrawals, buys and sells in the window (one marker per type and day, "
    "on the value line; a weekend's on the next valuation day) and, with `contributions=true`, "
    "draws the net contributions beside the value as a step line: the external flows of the "
    "window (the series' `netFlow`; a buy the cash cannot pay for is one), plus, when the "
    "ledger starts before the window, the first day's value less that day's flows."
)


class Dated(Protocol):
    """A ledger row, or a (date, type) row read for the marks."""

    @property
    def date(self) -> date: ...

    @property
    def type(self) -> str: ...


def marks_of(entries: Iterable[Dated]) -> list[tuple[date, str]]:
    """The (day, type) of each ledger entry, for the value chart: it marks those of the types
    in `MARKED` and sees from the first whether anything was held before the window."""
    return [(e.date, e.type) for e in entries]


def draw(
    perf: dict[str, Any],
    kind: Kind,
    fmt: Format,
    title: str,
    *,
    marks: Iterable[tuple[date, str]] = (),
    contributions: bool = False,
    size: tuple[float, float] = (10, 5.5),
    dpi: int = 100,
) -> bytes:
    """The chart of ``perf`` (the performance as the API answers it, `model_dump` form) as image
    bytes, ``size`` in inches; CPU work, for a worker thread. ``marks`` and ``contributions``
    are for the value chart only."""
    from flint.portfolio import plotting

    return plotting.draw(
        perf, kind, fmt, title, marks=list(marks), contributions=contributions, size=size, dpi=dpi
    )
