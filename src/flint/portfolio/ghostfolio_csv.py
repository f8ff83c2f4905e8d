"""Ghostfolio's CSV: the other file its Import button takes (read in the browser by its
`ImportActivitiesService`, ghostfolio/ghostfolio
``apps/client/src/app/services/import-activities.service.ts``), each row an activity. The rows
are read into the activities of an export file, so everything `ghostfolio.Reader` does with an
export holds for them (types, MANUAL assets, fees on dividends, accounts, re-imports).

Columns, by Ghostfolio's own names (any case; the first of each group the header has):
``date``/``tradedate``; ``action``/``buy/sell``/``type`` (buy, sell, dividend, fee, interest,
liability); ``code``/``symbol``/``ticker``; ``ccy``/``currency``/``currencyprimary``;
``qty``/``quantity``/``shares``/``units``; ``price``/``tradeprice``/``unitprice``/``value``;
``commission``/``fee``/``ibcommission``; and, optional, ``datasource`` (without it FEE,
INTEREST and LIABILITY are MANUAL, the rest YAHOO), ``account``/``accountid`` (a Ghostfolio
account's id or name: `ghostfolio_apply` finds the portfolio made of it) and
``comment``/``note``. As in Ghostfolio, quantities, prices and fees are
taken without their sign, and a MANUAL symbol is an asset of that name.

Days: ``DD-MM-YYYY``, ``DD/MM/YYYY``, ``DD.MM.YYYY``, ``YYYY-MM-DD``, ``YYYY/MM/DD``,
``YYYY.MM.DD``, ``YYYYMMDD`` (the day as written), or an RFC 3339 date-time. Numbers: the one
grammar of numbers, or as a spreadsheet shows them (``1.234,5``) in a file of semicolons or
tabs (`imports.text`). Problems are named by line and by the column as the header writes it
(``line 7.Price``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from flint.errors import ValidationFailed, error_message, field_error
from flint.kit.schema import is_decimal_text
from flint.portfolio import ghostfolio
from flint.portfolio.ghostfolio_schemas import GfFile
from flint.portfolio.imports import text
from flint.portfolio.imports.base import ImportRefused
from flint.portfolio.imports.numbers import day

COLUMNS = {
    # the activity's field: Ghostfolio's names for its column
    "date": ("date", "tradedate"),
    "type": ("action", "buy/sell", "type"),
    "symbol": ("code", "symbol", "ticker"),
    "currency": ("ccy", "currency", "currencyprimary"),
    "quantity": ("qty", "quantity", "shares", "units"),
    "unitPrice": ("price", "tradeprice", "unitprice", "value"),
    "fee": ("commission", "fee", "ibcommission"),
    "dataSource": ("datasource",),
    "accountId": ("account", "accountid"),
    "comment": ("comment", "note"),
}
REQUIRED = ("date", "type", "symbol", "currency", "quantity", "unitPrice", "fee")
NUMBERS = ("quantity", "unitPrice", "fee")
MANUAL_TYPES = {"FEE", "INTEREST", "LIABILITY"}
DAYS = ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d")
_ACTIVITY = re.compile(r"activities\[(\d*)\](?:\.(\w+))?")


def recognises(data: bytes) -> bool:
    """Whether the file is a CSV whose header has Ghostfolio's date, type and symbol columns
    (not JSON: an export file starts with ``{``)."""
    start = text.head(data, 4096).lstrip("\ufeff \t\r\n")
    if start[:1] in ("{", "["):
        return False
    try:
        header = next(text.reader(start))
    except (StopIteration, csv.Error):
        return False
    names = {cell.strip().lower() for cell in header}
    return all(names & set(COLUMNS[field]) for field in ("date", "type", "symbol"))


@dataclass
class Names:
    """Each activity's line in the file, and each field's column as the header writes it."""

    lines: list[int]
    titles: dict[str, str]

    def of(self, where: str) -> str:
        """``activities[3].unitPrice`` as the file's ``line 5.Price`` (``activities[].comment``,
        what several share, as the column, ``Note``); other names as they are."""

        def named(match: re.Match[str]) -> str:
            column = self.titles.get(match[2], match[2]) if match[2] else None
            if not match[1]:  # what several activities share: their column
                return column or "every line"
            line = f"line {self.lines[int(match[1])]}"
            return f"{line}.{column}" if column else line

        return _ACTIVITY.sub(named, where)

    def renamed(self, exc: ValidationFailed) -> ValidationFailed:
        """``exc`` with the file's names."""
        errors = [field_error(self.of(e.field), e.message, e.type) for e in exc.errors or []]
        return ValidationFailed(self.of(exc.detail), errors=errors or None)


@dataclass
class Sheet:
    """The file as an export's activities, and how to name their problems as the file does."""

    doc: GfFile
    names: Names


def read(data: bytes) -> Sheet:
    """The file's rows as an export's activities; `ValidationFailed` names every row's
    problem that reading alone finds (the rest are `ghostfolio.Reader`'s)."""
    try:
        source = text.decode(data)
    except ImportRefused as exc:
        raise ghostfolio.refuse(exc.problems) from exc
    reader = text.reader(source)
    try:
        header = next(reader)
        header_at = reader.line_num
        rows = [(reader.line_num, row) for row in reader]
    except StopIteration as exc:
        raise ghostfolio.refuse([("body", "the file is empty")]) from exc
    except csv.Error as exc:
        raise ghostfolio.refuse([("body", f"not CSV: {exc}")]) from exc
    keys = [cell.strip().lower() for cell in header]
    found = {
        field: next((keys.index(name) for name in names if name in keys), None)
        for field, names in COLUMNS.items()
    }
    missing = [field for field in REQUIRED if found[field] is None]
    if missing:
        raise ghostfolio.refuse(
            [(f"line {header_at}", f"no {' or '.join(COLUMNS[f])} column") for f in missing]
        )
    columns = {field: k for field, k in found.items() if k is not None}
    titles = {field: header[k].strip() for field, k in columns.items()}
    rows = [(line, row) for line, row in rows if any(cell.strip() for cell in row)]
    read_number = _numbers(reader.dialect.delimiter, rows, [columns[f] for f in NUMBERS])
    activities: list[dict[str, Any]] = []
    problems: list[tuple[str, str]] = []
    for line, row in rows:
        cells = {f: row[k].strip() for f, k in columns.items() if k < len(row)}
        activity: dict[str, Any] = {f: cells.get(f) or None for f in COLUMNS}
        for field in NUMBERS:
            cell = cells.get(field) or ("0" if field == "fee" else "")
            try:
                # copy_abs: abs() rounds to the context, Overflow at the largest exponents
                activity[field] = read_number(cell).copy_abs()
            except ValueError as exc:
                problems.append((f"line {line}.{titles[field]}", str(exc)))
        activity["date"] = _day(cells.get("date", ""))
        kind = (activity["type"] or "").upper()
        activity["type"] = kind
        named = (activity["dataSource"] or "").upper()
        activity["dataSource"] = named or ("MANUAL" if kind in MANUAL_TYPES else "YAHOO")
        activities.append(activity)
    if problems:
        raise ghostfolio.refuse(problems)
    profiles = {
        a["symbol"]: {
            "symbol": a["symbol"],
            "dataSource": "MANUAL",
            "currency": a["currency"],
            "name": a["symbol"],
        }
        for a in activities
        if a["dataSource"] == "MANUAL" and a["symbol"] and a["type"] not in MANUAL_TYPES
    }
    names = Names([line for line, _ in rows], titles)
    try:
        doc = GfFile.model_validate(
            {"activities": activities, "assetProfiles": list(profiles.values())}
        )
    except ValidationError as exc:
        problems = [(ghostfolio.where_of(e["loc"]), error_message(e)) for e in exc.errors()]
        raise names.renamed(ghostfolio.refuse(problems)) from exc
    return Sheet(doc, names)


def _numbers(
    separator: str, rows: list[tuple[int, list[str]]], columns: list[int]
) -> Callable[[str], Decimal]:
    """How the file's numbers read: the one grammar of numbers (with a sign) in a file of
    commas; a spreadsheet's numbers in one of semicolons or tabs (`text.spreadsheet_numbers`)."""
    cells = (row[k] for _, row in rows for k in columns if k < len(row))
    spreadsheet = text.spreadsheet_numbers(separator, cells)
    if spreadsheet is not None:
        return spreadsheet

    def strict(cell: str) -> Decimal:
        if not is_decimal_text(cell.removeprefix("-")):
            raise ValueError(f"{cell!r} is not a number" if cell else "is empty")
        return Decimal(cell)

    return strict


def _day(cell: str) -> str:
    """The day a cell writes, as ``YYYY-MM-DD``, or the cell itself (an RFC 3339 date-time,
    or no day at all: the reader names it)."""
    try:
        return day(cell, DAYS).isoformat()
    except ValueError:
        return cell
