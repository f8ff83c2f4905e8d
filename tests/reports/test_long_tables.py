"""A PDF report's long table (a big ledger's transactions, its tax lots): every row printed once,
in order, under its header on every page, in time that grows with the rows, not their square."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pypdf import PdfReader
from reportlab.platypus import Table as ReportLabTable

from flint.reports import pdf
from flint.reports.document import Column, Document, Table

ROWS = 2600
HEADER = ["Ref", "Date", "Symbol", "Quantity", "Price", "Fee", "Amount"]


def _document(rows: int) -> Document:
    columns = [Column(label, numeric=k >= 3) for k, label in enumerate(HEADER)]
    table = Table(
        "Transactions",
        columns,
        [[f"T{k:05d}", "2024-01-02", "AAPL", "12", "123.45", "1.00", ""] for k in range(rows)],
        total=["Total", "", "", "", "", "", "9,999.00"],
    )
    return Document(
        "Transactions", "Big", "2016-2026", "USD", None, datetime.now(UTC), [], tables=[table]
    )


def test_a_long_table_prints_every_row_once_in_order_under_its_header_on_every_page() -> None:
    reader = PdfReader(io.BytesIO(pdf.render(_document(ROWS))))
    seen: list[str] = []
    for number, page in enumerate(reader.pages, 1):
        cells = _cells(page)  # pypdf reads each cell as a line
        refs = [k for k, cell in enumerate(cells) if re.fullmatch(r"T\d{5}", cell)]
        if not refs:
            continue
        headers = [k for k in range(len(cells)) if cells[k : k + len(HEADER)] == HEADER]
        assert len(headers) == 1, f"page {number} has {len(headers)} header rows"
        assert headers[0] < refs[0], f"page {number} has rows before its header"
        seen += [cells[k] for k in refs]
    assert seen == [f"T{k:05d}" for k in range(ROWS)]
    last = _cells(reader.pages[-1])
    assert last.index("Total") > last.index(seen[-1])
    assert "9,999.00" in last


def _cells(page: Any) -> list[str]:
    return [line.strip() for line in page.extract_text().splitlines()]


def test_no_table_reportlab_lays_out_holds_more_than_a_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ReportLab splits a table at each page into a new table of every row left, measured
    again: one table of all the rows cost O(n²) (100,000 transactions never finished)."""
    sizes: list[int] = []
    built = ReportLabTable.__init__

    def counted(self: Any, data: Any, *args: Any, **kwargs: Any) -> None:
        sizes.append(len(data))
        built(self, data, *args, **kwargs)

    monkeypatch.setattr(ReportLabTable, "__init__", counted)
    pdf.render(_document(ROWS))
    assert max(sizes) <= 60  # a page of rows (38 of them) and the header
    assert sum(sizes) >= ROWS
