"""A report as a PDF statement, with ReportLab (pure Python wheels: no system library).

Text is set in DejaVu Sans, the TrueType font matplotlib ships (names in any European script
print, and the text can be searched and copied). Every user-supplied string reaches
ReportLab's paragraph markup escaped; table cells are plain strings, never markup.
"""

from __future__ import annotations

import io
import threading
from bisect import bisect_right
from itertools import accumulate
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from flint.reports.content import Chart, Document
from flint.reports.content import Table as DataTable

FONT, BOLD = "FlintSans", "FlintSans-Bold"
INK = colors.HexColor("#1b2430")
MUTED = colors.HexColor("#5b6675")
ACCENT = colors.HexColor("#0b5cad")
RULE = colors.HexColor("#d5dbe3")
SHADE = colors.HexColor("#f3f5f8")
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
WIDTH = PAGE_WIDTH - 2 * MARGIN
LEADING, PADDING = 12, 3
"""A table row's line height and its padding above and below (points)."""

_fonts_lock = threading.Lock()
_fonts_ready = False


def _register_fonts() -> None:
    global _fonts_ready
    with _fonts_lock:
        if _fonts_ready:
            return
        folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        pdfmetrics.registerFont(TTFont(FONT, str(folder / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(folder / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
        _fonts_ready = True


def _style(name: str, **kwargs: Any) -> ParagraphStyle:
    values: dict[str, Any] = {"fontName": FONT, "fontSize": 9, "leading": 12, "textColor": INK}
    values.update(kwargs)
    return ParagraphStyle(name, **values)


TITLE = _style("title", fontName=BOLD, fontSize=22, leading=27)
SUBTITLE = _style("subtitle", fontSize=14, leading=18, textColor=ACCENT, spaceBefore=2)
META = _style("meta", fontSize=9, leading=13, textColor=MUTED, spaceBefore=3)
HEADING = _style("heading", fontName=BOLD, fontSize=12, leading=15, spaceBefore=14, spaceAfter=6)
LABEL = _style("label", fontSize=7, leading=9, textColor=MUTED)
FIGURE = _style("figure", fontName=BOLD, fontSize=12.5, leading=16)
NOTE = _style("note", fontSize=7.5, leading=10.5, textColor=MUTED, spaceAfter=4)
CAPTION = _style("caption", fontName=BOLD, fontSize=10, leading=13, spaceAfter=3)
EMPTY = _style("empty", fontSize=9, leading=12, textColor=MUTED)


def _text(value: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(value), style)


def _figures(figures: list[tuple[str, str]], per_row: int = 4) -> list[Flowable]:
    """Key figures as rows of boxes: a small label over the value."""
    gap = 2 * mm
    box = (WIDTH - gap * (per_row - 1)) / per_row
    out: list[Flowable] = []
    for start in range(0, len(figures), per_row):
        chunk = figures[start : start + per_row]
        cells: list[Any] = []
        style: list[tuple[Any, ...]] = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 7),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ]
        for i, (label, value) in enumerate(chunk):
            cells.append([_text(label.upper(), LABEL), _text(value, FIGURE)])
            style.append(("BACKGROUND", (i * 2, 0), (i * 2, 0), SHADE))
            style.append(("LINEABOVE", (i * 2, 0), (i * 2, 0), 1.5, ACCENT))
            if i < per_row - 1:
                cells.append("")
        cells.extend([""] * (per_row * 2 - 1 - len(cells)))
        widths = [box if i % 2 == 0 else gap for i in range(per_row * 2 - 1)]
        out.append(Table([cells], colWidths=widths, style=TableStyle(style), hAlign="LEFT"))
        out.append(Spacer(1, gap))
    return out


def _table(data: DataTable) -> list[Flowable]:
    """The table under its heading, its header row at the top of every page it runs over."""
    heading = _text(data.title, HEADING)
    if not data.rows:
        return [KeepTogether([heading, _text(data.empty, EMPTY)])]
    return [heading, _PagedTable(data)]


class _PagedTable(Flowable):  # type: ignore[misc]  # ReportLab has no types
    """A table laid out a page at a time: a split makes a ReportLab table of the header and the
    rows that fit the space left, and keeps the rows after them as they are. ReportLab's own
    split of a table builds and measures a new table of every row left, at every page: one
    table of n rows cost O(n²) (8,000 transactions took 5 s, 100,000 never finished)."""

    def __init__(self, data: DataTable, start: int = 0, shared: _Rows | None = None) -> None:
        super().__init__()
        self.data, self.start = data, start
        self.rows = shared or _Rows(data)
        self.hAlign = "LEFT"

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        rows = self.rows
        self.width = sum(rows.widths)
        self.height = rows.header + rows.ends[-1] - rows.before(self.start)
        return self.width, self.height

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        rows, start = self.rows, self.start
        last = len(rows.cells) - 1
        fits = bisect_right(rows.ends, rows.before(start) + available_height - rows.header)
        fits = min(fits, last)  # asked to split, something goes over (the frame's own fuzz)
        if fits == last and self.data.total:
            fits -= 1  # the total never stands alone: the last row goes over with it
        if fits <= start:
            return []
        return [_table_of(self.data, rows, start, fits), _PagedTable(self.data, fits, rows)]

    def draw(self) -> None:
        table = _table_of(self.data, self.rows, self.start, len(self.rows.cells))
        table.wrapOn(self.canv, self.width, self.height)
        table.drawOn(self.canv, 0, 0)


class _Rows:
    """A table's rows (the total last), their heights as ReportLab measures a line of plain
    text (given, so that no table measures them again), and the columns' widths."""

    def __init__(self, data: DataTable) -> None:
        self.cells = [*data.rows, *([data.total] if data.total else [])]
        self.ends = list(accumulate(_height(row) for row in self.cells))
        self.header = _height([c.label for c in data.columns])
        n = len(data.columns)
        first = WIDTH * (0.16 if n >= 7 else 0.2)
        self.widths = [first] + [(WIDTH - first) / (n - 1)] * (n - 1) if n > 1 else [WIDTH]

    def before(self, start: int) -> float:
        """The height of the rows before ``start``."""
        return self.ends[start - 1] if start else 0.0


def _height(row: list[str]) -> float:
    return LEADING * (1 + max(cell.count("\n") for cell in row)) + 2 * PADDING


def _table_of(data: DataTable, rows: _Rows, start: int, end: int) -> Table:
    """The ReportLab table of the header and rows ``start`` to ``end`` (the total among them
    when ``end`` is the last)."""
    cells = [[c.label for c in data.columns], *rows.cells[start:end]]
    total = bool(data.total) and end == len(rows.cells)
    stripes = [colors.white, SHADE] if start % 2 == 0 else [SHADE, colors.white]
    style: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("LEADING", (0, 0), (-1, -1), LEADING),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("FONTNAME", (0, 0), (-1, 0), BOLD),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("BACKGROUND", (0, 0), (-1, 0), INK),
        ("TOPPADDING", (0, 0), (-1, -1), PADDING),
        ("BOTTOMPADDING", (0, 0), (-1, -1), PADDING),
        ("LEFTPADDING", (0, 0), (-1, -1), 5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, RULE),
        ("ROWBACKGROUNDS", (0, 1), (-1, len(cells) - 1), stripes),  # every second row shaded
    ]
    for i, column in enumerate(data.columns):
        if column.numeric:
            style.append(("ALIGN", (i, 0), (i, -1), "RIGHT"))
    if total:
        style += [
            ("FONTNAME", (0, -1), (-1, -1), BOLD),
            ("LINEABOVE", (0, -1), (-1, -1), 1, INK),
            ("BACKGROUND", (0, -1), (-1, -1), colors.white),
        ]
    heights = [rows.header, *(rows.ends[k] - rows.before(k) for k in range(start, end))]
    return Table(
        cells, colWidths=rows.widths, rowHeights=heights, style=TableStyle(style), hAlign="LEFT"
    )


def _chart_rows(charts: list[Chart], scale: float = 1.0) -> list[list[Flowable]]:
    """Charts in rows: those whose shares of the width add up to 1 sit side by side, each
    under its caption; the flowables of each row, to be kept together (`KeepTogether`s do not
    nest: an inner one makes the outer think it never fits). ``scale`` shrinks the charts
    side by side (to fit a page)."""
    rows: list[list[Chart]] = []
    for chart in charts:
        if rows and sum(c.share for c in rows[-1]) + chart.share <= 1 + 1e-9:
            rows[-1].append(chart)
        else:
            rows.append([chart])
    out: list[list[Flowable]] = []
    for row in rows:
        if len(row) == 1 and row[0].share >= 1:
            (chart,) = row
            image = Image(io.BytesIO(chart.png), width=WIDTH, height=WIDTH * chart.aspect)
            out.append([_text(chart.caption, HEADING), image])
            continue
        gap = 4 * mm
        widths = [(WIDTH * c.share - gap * (len(row) - 1) / len(row)) * scale for c in row]
        cells = [
            [_text(c.caption, CAPTION), Image(io.BytesIO(c.png), width=w, height=w * c.aspect)]
            for c, w in zip(row, widths, strict=True)
        ]
        padding = [("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]
        style = TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), *padding])
        spaced = [x for i, w in enumerate(widths) for x in ([w] if i == 0 else [gap, w])]
        spaced_cells = [x for i, c in enumerate(cells) for x in ([c] if i == 0 else ["", c])]
        table = Table([spaced_cells], colWidths=spaced, style=style, hAlign="CENTER")
        out.append([Spacer(1, 3 * mm), table])
    return out


def _story(document: Document, scale: float = 1.0) -> list[Flowable]:
    meta = f"Period {document.period} \u00b7 Currency {document.currency}"
    if document.benchmark:
        meta += f" \u00b7 Benchmark {document.benchmark}"
    story: list[Flowable] = [
        _text(document.title, TITLE),
        _text(document.portfolio, SUBTITLE),
        _text(meta, META),
        Spacer(1, 4 * mm),
        *_figures(document.figures),
    ]
    for table in document.tables:
        story += _table(table)
    rows = _chart_rows(document.charts, scale)
    notes = [_text("Notes", HEADING), *(_text(n, NOTE) for n in document.notes)]
    # The last chart row and the notes move together: notes never sit alone on a last page.
    if document.notes:
        rows = [*rows[:-1], [*(rows[-1] if rows else []), *notes]]
    story += [KeepTogether(row) for row in rows]
    return story


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # ReportLab has no types
    """Holds pages back until the end, so each footer can say "Page n of N"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._held)
        for state in self._held:
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(
                PAGE_WIDTH - MARGIN, 11 * mm, f"Page {self._pageNumber} of {total}"
            )
            super().showPage()
        super().save()


FIT_SCALES = (1.0, 0.9, 0.8, 0.7)
"""The sizes a one-page document's side-by-side charts are tried at, largest first."""


def render(document: Document) -> bytes:
    """The PDF; a `Document.one_page` document is laid out again with smaller charts while it
    runs over one page, and as it flows if even the smallest do not fit."""
    _register_fonts()
    first = b""
    for scale in FIT_SCALES if document.one_page else (1.0,):
        data, pages = _render(document, scale)
        first = first or data
        if pages == 1:
            return data
    return first


def _render(document: Document, scale: float) -> tuple[bytes, int]:
    buffer = io.BytesIO()
    generated = f"Generated {document.generated_at:%Y-%m-%d %H:%M} UTC by Flint"

    def frame(pdf: Canvas, _doc: Any) -> None:
        pdf.saveState()
        top = PAGE_HEIGHT - 12 * mm
        pdf.setFont(BOLD, 10)
        pdf.setFillColor(ACCENT)
        pdf.drawString(MARGIN, top, "FLINT")
        pdf.setFont(FONT, 8)
        pdf.setFillColor(MUTED)
        pdf.drawString(MARGIN + 14 * mm, top, document.title)
        pdf.drawRightString(PAGE_WIDTH - MARGIN, top, document.portfolio[:80])
        pdf.setStrokeColor(RULE)
        pdf.setLineWidth(0.6)
        pdf.line(MARGIN, top - 3 * mm, PAGE_WIDTH - MARGIN, top - 3 * mm)
        pdf.line(MARGIN, 15 * mm, PAGE_WIDTH - MARGIN, 15 * mm)
        pdf.setFont(FONT, 7.5)
        pdf.drawString(MARGIN, 11 * mm, generated)
        pdf.restoreState()

    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=22 * mm,
        bottomMargin=20 * mm,
        title=f"{document.title}: {document.portfolio}",
        author="Flint",
        subject=f"{document.title}, {document.period}",
        creator="Flint",
    )
    doc.build(
        _story(document, scale), onFirstPage=frame, onLaterPages=frame, canvasmaker=_NumberedCanvas
    )
    return buffer.getvalue(), doc.page
