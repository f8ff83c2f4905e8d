"""Charts of a portfolio's performance: value, drawdown, allocation or against the benchmark,
as PNG or SVG.

matplotlib takes a second or more to import, and most processes never draw a chart: it is
imported on the first one (`plotting`).
"""

from __future__ import annotations

from typing import Any

from flint.portfolio.schemas import ChartFormat as Format
from flint.portfolio.schemas import ChartKind as Kind

__all__ = ["MEDIA_TYPES", "Format", "Kind", "draw"]

MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def draw(perf: dict[str, Any], kind: Kind, fmt: Format, title: str) -> bytes:
    """The chart of ``perf`` (the performance as the API answers it) as image bytes; CPU work,
    for a worker thread."""
    from flint.portfolio import plotting

    return plotting.draw(perf, kind, fmt, title)
