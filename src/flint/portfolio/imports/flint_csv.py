"""CSV in and out of a portfolio's ledger.

Columns (header names are case-insensitive; the usual aliases are accepted):
``date`` (trade_date), ``symbol`` (ticker), ``type`` (action, side, transaction_type),
``quantity`` (qty, shares, units), ``price`` (unit_price, price_per_share), ``fee``
(fees, commission), ``amount`` (optional), ``currency``. Cash rows (dividend, interest, fee,
tax, deposit, withdrawal) take ``amount``; without an amount column, their amount is
``quantity x price`` when both are given, else whichever is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from flint.errors import error_message, field_path
from flint.kit.schema import is_decimal_text
from flint.portfolio.imports import text
from flint.portfolio.imports.base import ImportRefused, Parsed
from flint.portfolio.imports.numbers import day
from flint.portfolio.pages import LedgerRow
from flint.portfolio.schemas import TransactionIn

ALIASES = {
    "date": "date",
    "trade_date": "date",
    "symbol": "symbol",
    "ticker": "symbol",
    "type": "type",
    "action": "type",
    "side": "type",
    "transaction_type": "type",
    "quantity": "quantity",
    "qty": "quantity",
    "shares": "quantity",
    "units": "quantity",
    "price": "price",
    "unit_price": "price",
    "price_per_share": "price",
    "fee": "fee",
    "fees": "fee",
    "commission": "fee",
    "amount": "amount",
    "currency": "currency",
}
REQUIRED = ("date", "type")
COLUMNS = ("date", "symbol", "type", "quantity", "price", "fee", "amount", "currency")
NUMBERS = ("quantity", "price", "fee", "amount")
CASH_TYPES = {"dividend", "interest", "fee", "tax", "deposit", "withdrawal"}
MAX_DIGITS = 40
"""A product of more integer digits than this is no amount (the checks allow 13)."""


SPREADSHEET_DAYS = ("%Y-%m-%d", "%d.%m.%Y")
"""The days a spreadsheet's file may write (`_Numbers`): ISO, and the day-first dotted form
that the locales with a decimal comma display (and so save) a date in."""


class _BadCell(ValueError):
    def __init__(self, column: str, why: str) -> None:
        super().__init__(why)
        self.column = column


@dataclass(frozen=True)
class _Numbers:
    """How the file writes numbers: comma-separated files in the one grammar of numbers
    (``1234.5``); a file of semicolons or tabs, as a spreadsheet saves it where the decimal
    mark is a comma, as the spreadsheet shows them (``1.234,5``; ``spreadsheet``, from
    `text.spreadsheet_numbers`) with its days (`SPREADSHEET_DAYS`)."""

    spreadsheet: Callable[[str], Decimal] | None = None

    def read(self, values: dict[str, Any], columns: Sequence[str]) -> None:
        """The row's numbers (and a spreadsheet's day) read in place; `_BadCell` names the
        first cell that is none."""
        for column in columns:
            cell = values.get(column)
            if cell is None:
                continue
            if self.spreadsheet is None:
                if (read := _number(column, cell)) is not None:
                    values[column] = read
                continue
            try:
                values[column] = self.spreadsheet(cell)
            except ValueError as exc:
                raise _BadCell(column, str(exc)) from exc
        if self.spreadsheet is not None and "date" in values:
            try:
                values["date"] = day(values["date"], SPREADSHEET_DAYS)
            except ValueError as exc:
                raise _BadCell("date", str(exc)) from exc


def _number(column: str, text: str) -> Decimal | None:
    """The number a cell holds, read once here (None when it is not written by the one grammar
    of numbers, or not a number at all: the row's checks name that); `_BadCell` for NaN and
    infinities."""
    if is_decimal_text(text):
        return Decimal(text)
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        raise _BadCell(column, f"{text!r} is not a finite number")
    return None


def _cash_amount(quantity: Decimal | str | None, price: Decimal | str | None) -> Any:
    """A cash row's amount without an amount column: ``quantity x price`` when both are
    numbers, else whichever is given (as given: the row's checks bound it)."""
    if isinstance(quantity, Decimal) and isinstance(price, Decimal):
        if quantity and price and quantity.adjusted() + price.adjusted() > MAX_DIGITS:
            # beyond any amount, as the product is (copy_abs: abs() rounds to the context,
            # which overflows at the largest exponents)
            return max(quantity, price, key=Decimal.copy_abs)
        return quantity * price
    return price if price is not None else quantity


def recognises(data: bytes) -> bool:
    """Whether the file's first line is a header of these columns (with ``date`` and
    ``type``, and nothing else)."""
    try:
        header = next(text.reader(text.head(data, 4096)))
    except (StopIteration, csv.Error):
        return False
    names = [_column(h) for h in header]
    return all(column in names for column in REQUIRED) and None not in names


def parse_file(data: bytes) -> Parsed:
    """`parse` as an import preset (this format has no ids of its own)."""
    entries, labels = parse(data)
    return Parsed(entries, labels, [None] * len(entries))


def _column(header: str) -> str | None:
    return ALIASES.get(header.strip().lower().replace(" ", "_"))


def parse(data: bytes) -> tuple[list[TransactionIn], list[str]]:
    """Every row as a transaction, with its name (``line N``, the file's line); ImportRefused
    names every bad row (nothing is imported unless all are good)."""
    source = text.decode(data)
    reader = text.reader(source)
    try:
        header = next(reader)
        header_at = reader.line_num
        rows = list(reader)
    except StopIteration as exc:
        raise ImportRefused([("body", "the file is empty")]) from exc
    except csv.Error as exc:
        raise ImportRefused([("body", f"not CSV: {exc}")]) from exc
    numbered: Iterable[tuple[int, list[str]]] = enumerate(rows, start=header_at + 1)
    if reader.line_num != header_at + len(rows):  # a quoted cell holds a line break
        numbered = _numbered(source)
    header_line = f"line {header_at}"
    names = [_column(h) for h in header]
    missing = [column for column in REQUIRED if column not in names]
    unknown = [h for h, n in zip(header, names, strict=True) if n is None and h.strip()]
    if missing or unknown:
        header_problems = [(header_line, f"no {column!r} column") for column in missing]
        header_problems += [(header_line, f"unknown column {h!r}") for h in unknown]
        raise ImportRefused(header_problems)
    named = [(k, name) for k, name in enumerate(names) if name]
    numeric = [name for name in NUMBERS if name in names]
    columns = [k for k, name in named if name in NUMBERS]
    cells = (row[k] for row in rows for k in columns if k < len(row))
    reading = _Numbers(text.spreadsheet_numbers(reader.dialect.delimiter, cells))
    entries: list[TransactionIn] = []
    labels: list[str] = []
    problems: list[tuple[str, str]] = []
    for line, row in numbered:
        values = _cells(row, named)
        if values is None:
            continue
        where = f"line {line}"
        if len(row) != len(header):
            problems.append((where, f"{len(row)} fields, the header has {len(header)}"))
            continue
        values["type"] = values.get("type", "").lower()
        if "symbol" in values:
            values["symbol"] = values["symbol"].upper()
        try:
            reading.read(values, numeric)
        except _BadCell as exc:
            problems.append((f"{where}.{exc.column}", str(exc)))
            continue
        if values["type"] in CASH_TYPES and "amount" not in values:
            amount = _cash_amount(values.pop("quantity", None), values.pop("price", None))
            if amount is not None:
                values["amount"] = amount
        try:
            entries.append(TransactionIn.model_validate(values))
            labels.append(where)
        except ValidationError as exc:
            for error in exc.errors():
                field = field_path(error["loc"]) or "row"
                problems.append(
                    (f"{where}.{field}" if field != "row" else where, error_message(error))
                )
    if problems:
        raise ImportRefused(problems)
    if not entries:
        raise ImportRefused([("body", "the file has no rows")])
    return entries, labels


def _numbered(source: str) -> list[tuple[int, list[str]]]:
    """The rows after the header, each with the line it ends on."""
    reader = text.reader(source)
    next(reader)
    return [(reader.line_num, row) for row in reader]


def _cells(row: list[str], named: list[tuple[int, str]]) -> dict[str, Any] | None:
    """The row's non-empty cells (stripped) by column name; None for a blank row (a row of
    another length than the header's gets its cells too, for `parse` to name it)."""
    values: dict[str, Any] = {}
    for k, name in named:
        if k < len(row) and (cell := row[k].strip()):
            values[name] = cell
    if not values and not any(cell.strip() for cell in row):
        return None
    return values


def render(entries: Sequence[LedgerRow], *, header: bool = True) -> str:
    """The entries as CSV rows (with the header line first, unless ``header`` is False: a
    chunk after the first of a streamed export)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.date.isoformat(),
                e.symbol or "",
                e.type,
                "" if e.quantity is None else format(e.quantity, "f"),
                "" if e.price is None else format(e.price, "f"),
                format(e.fee, "f") if e.fee else "",
                "" if e.amount is None else format(e.amount, "f"),
                e.currency,
            ]
        )
    return out.getvalue()
