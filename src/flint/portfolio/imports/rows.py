"""What the broker presets share: reading a CSV export by its column names, gathering the
transactions with every problem named (all rows or none), and symbols in Flint's form."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any

from pydantic import ValidationError

from flint.errors import error_message, field_path
from flint.portfolio.imports import numbers, text
from flint.portfolio.imports.base import ImportRefused, Parsed
from flint.portfolio.imports.numbers import optional_number
from flint.portfolio.schemas import TransactionIn


def key(name: str) -> str:
    """A column's name as the presets look it up: lower case, letters and digits only
    (``Price / share`` -> ``priceshare``, ``Buy/Sell`` -> ``buysell``)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def first_rows(data: bytes, count: int = 12) -> list[list[str]]:
    """The first CSV rows of the file (fewer where it stops or is no CSV), for ``recognises``."""
    start = text.head(data)
    try:
        return list(islice(text.reader(start), count))
    except csv.Error:
        return []


class CellError(ValueError):
    """A cell that cannot be read; ``where`` names it (``line 7.Price``)."""

    def __init__(self, where: str, why: str) -> None:
        super().__init__(why)
        self.where = where


@dataclass
class Row:
    """One data row: its line in the file, its cells by column key, and the columns' names
    as the file writes them (for the problems)."""

    line: int
    cells: dict[str, str]
    titles: dict[str, str] = field(default_factory=dict)
    label: str = ""
    """The row's name where it is no line (``Trade[3]``)."""
    decimal_comma: bool | None = None
    """Whether the file's numbers take a decimal comma (None: told by each number)."""

    @property
    def where(self) -> str:
        return self.label or f"line {self.line}"

    def at(self, name: str) -> str:
        return f"{self.where}.{self.titles.get(name) or name}"

    def number(self, *names: str) -> Decimal | None:
        """The first of these columns that has a value, as a number (None: none has);
        `CellError` names the cell that is no number."""
        for name in names:
            cell = self.cells.get(name, "").strip()
            if cell:
                try:
                    return optional_number(cell, decimal_comma=self.decimal_comma)
                except ValueError as exc:
                    raise CellError(self.at(name), str(exc)) from exc
        return None

    def day(self, name: str, formats: Sequence[str]) -> date:
        try:
            return numbers.day(self.cells.get(name, ""), formats)
        except ValueError as exc:
            raise CellError(self.at(name), str(exc)) from exc

    def get(self, *names: str) -> str:
        """The first of these columns that has a value, stripped ('' when none has)."""
        for name in names:
            value = self.cells.get(name, "").strip()
            if value:
                return value
        return ""


def csv_rows(
    data: bytes,
    is_header: Callable[[list[str]], bool],
    *,
    unnamed: Callable[[str], str] = lambda before: f"{before}currency",
) -> Iterator[Row]:
    """The rows after the first header row (``is_header`` of its cells), blank ones left
    out. An unnamed column is named by ``unnamed`` from the key of the column before it
    (DEGIRO leaves each amount's currency column unnamed)."""
    reader = text.reader(text.decode(data))
    names: list[str] | None = None
    titles: dict[str, str] = {}
    try:
        for cells in reader:
            if names is None:
                if is_header(cells):
                    names = []
                    previous = ""
                    for cell in cells:
                        before = names[-1] if names else ""
                        name = key(cell) or unnamed(before)
                        titles[name] = cell.strip() or f"{previous} {name[len(before) :]}"
                        previous = titles[name]
                        names.append(name)
                continue
            if not any(cell.strip() for cell in cells):
                continue
            yield Row(reader.line_num, dict(zip(names, cells, strict=False)), titles)
    except csv.Error as exc:
        raise ImportRefused([("body", f"not CSV: {exc}")]) from exc
    if names is None:
        raise ImportRefused([("body", "the file has no header row of this format")])


class Builder:
    """The transactions read so far and every problem found; `done` gives them or raises."""

    def __init__(self) -> None:
        self.parsed = Parsed()
        self.problems: list[tuple[str, str]] = []

    def refuse(self, where: str, why: str) -> None:
        self.problems.append((where, why))

    def refuse_row(self, where: str, exc: ValueError) -> None:
        """A row's problem: the cell a `CellError` names, else the row."""
        self.refuse(exc.where if isinstance(exc, CellError) else where, str(exc))

    def add(self, where: str, source_id: str | None = None, **values: Any) -> None:
        """A transaction from these values (``None`` values left out), or its problems."""
        fields = {name: value for name, value in values.items() if value is not None}
        try:
            entry = TransactionIn.model_validate(fields)
        except ValidationError as exc:
            for error in exc.errors():
                field = field_path(error["loc"])
                self.refuse(f"{where}.{field}" if field else where, error_message(error))
            return
        self.parsed.add(entry, where, source_id or None)

    def done(self) -> Parsed:
        if self.problems:
            raise ImportRefused(self.problems)
        if not self.parsed.entries:
            raise ImportRefused([("body", "the file has no transactions to import")])
        return self.parsed


_SHARE_CLASS = re.compile(r"^([A-Z0-9]+)[ /]([A-Z])$")


def listed(ticker: str) -> str:
    """A broker's ticker in Flint's form: upper case, a share class as ``BRK.B`` (brokers
    write ``BRK B``, ``BRK/B``)."""
    symbol = ticker.strip().upper()
    match = _SHARE_CLASS.fullmatch(symbol)
    return f"{match[1]}.{match[2]}" if match else symbol


def with_suffix(ticker: str, suffix: str) -> str:
    """A listing in Yahoo's form: ``VUSA`` on London is ``VUSA.L`` (a share class then takes
    a dash, as Yahoo writes it: ``RDS-A.L``)."""
    symbol = listed(ticker)
    if not suffix:
        return symbol
    return f"{symbol.replace('.', '-')}{suffix}"


def currency(code: str) -> str | None:
    """A currency as Flint takes it (London's pence, GBX, as ``GBp``); None when empty."""
    code = code.strip()
    if not code:
        return None
    return "GBp" if code.upper() in {"GBX", "GBP.P"} or code == "GBp" else code.upper()


SIGNED = {
    # category: (type when money comes in, when it goes out); a string with a space refuses
    "dividend": ("dividend", "a dividend taken back"),
    "interest": ("interest", "fee"),
    "tax": ("a tax refunded", "tax"),
    "fee": ("a fee refunded", "fee"),
    "transfer": ("deposit", "withdrawal"),
}
"""The ledger type of a cash row of a statement that signs its amounts (Schwab, Fidelity)."""


def signed_type(row: Row, category: str) -> tuple[str, Decimal]:
    """A signed cash row's type (`SIGNED`, by which way its amount went) and its amount;
    `CellError` for an amount of 0 and for the reversals Flint does not book."""
    amount = row.number("amount")
    if not amount:
        raise CellError(row.at("amount"), "the amount is empty or 0")
    kind = SIGNED[category][0 if amount > 0 else 1]
    if " " in kind:
        raise CellError(row.at("amount"), f"{kind} is not booked")
    return kind, amount
