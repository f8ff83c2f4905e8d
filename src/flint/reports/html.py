"""A report as one self-contained HTML page (Jinja2, autoescaped; charts inline as data-URI
PNGs, styles inline), readable offline and printable."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined

from flint.reports.content import Document

_env = Environment(
    loader=PackageLoader("flint.reports", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=False,
    lstrip_blocks=False,
)


@dataclass(frozen=True)
class _Image:
    caption: str
    src: str


def render(document: Document) -> bytes:
    charts = [
        _Image(chart.caption, "data:image/png;base64," + base64.b64encode(chart.png).decode())
        for chart in document.charts
    ]
    page = _env.get_template("report.html.j2").render(document=document, charts=charts)
    return page.encode("utf-8")
