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
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from flint.portfolio.imports.base import ImportRefused, Parsed
from flint.portfolio.models import PortfolioTransaction
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
CASH_TYPES = {"dividend", "interest", "fee", "tax", "deposit", "withdrawal"}
MAX_DIGITS = 40
"""A product of more integer digits than this is no amount (the checks allow 13)."""


class _NotANumber(ValueError):
    def __init__(self, column: str, text: str) -> None:
        super().__init__(f"{text!r} is not a finite number")
        self.column = column


def _decimal(column: str, text: str | None) -> Decimal | None:
    """The number in a cell (None when it is empty or not a number at all: the row's checks
    name that); `_NotANumber` for NaN and infinities."""
    try:
        value = Decimal(text or "")
    except InvalidOperation:
        return None
    if not value.is_finite():
        raise _NotANumber(column, text or "")
    return value


def _cash_amount(quantity: str | None, price: str | None) -> str | None:
    """A cash row's amount without an amount column: ``quantity x price`` when both are
    given, else whichever is (as given: the row's checks bound it)."""
    q, p = _decimal("quantity", quantity), _decimal("price", price)
    if q is not None and p is not None:
        if q and p and q.adjusted() + p.adjusted() > MAX_DIGITS:
            return f"{q:E}"  # the product is beyond any amount: the checks refuse it
        return str(q * p)
    return price if p is not None else quantity if q is not None else None


def recognises(data: bytes) -> bool:
    """Whether the file's first line is a header of these columns (with ``date`` and
    ``type``, and nothing else)."""
    first = data[:4096].decode("utf-8-sig", errors="replace").splitlines()[:1]
    try:
        header = next(csv.reader(first))
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
    """Every row as a transaction, with its name (``line N``); ImportRefused names every bad
    row (nothing is imported unless all are good)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused([("body", "the file is not UTF-8 text")]) from exc
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise ImportRefused([("body", "the file is empty")]) from exc
    except csv.Error as exc:
        raise ImportRefused([("body", f"not CSV: {exc}")]) from exc
    names = [_column(h) for h in header]
    missing = [column for column in REQUIRED if column not in names]
    unknown = [h for h, n in zip(header, names, strict=True) if n is None and h.strip()]
    if missing or unknown:
        header_problems = [("line 1", f"no {column!r} column") for column in missing]
        header_problems += [("line 1", f"unknown column {h!r}") for h in unknown]
        raise ImportRefused(header_problems)
    entries: list[TransactionIn] = []
    labels: list[str] = []
    problems: list[tuple[str, str]] = []
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ImportRefused([("body", f"not CSV: {exc}")]) from exc
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"line {number}"
        if len(row) != len(header):
            problems.append((where, f"{len(row)} fields, the header has {len(header)}"))
            continue
        values: dict[str, Any] = {
            name: cell.strip()
            for name, cell in zip(names, row, strict=True)
            if name and cell.strip()
        }
        values["type"] = str(values.get("type", "")).lower()
        if "symbol" in values:
            values["symbol"] = str(values["symbol"]).upper()
        try:
            for column in ("quantity", "price", "fee", "amount"):
                _decimal(column, values.get(column))
            if values["type"] in CASH_TYPES and "amount" not in values:
                amount = _cash_amount(values.pop("quantity", None), values.pop("price", None))
                if amount is not None:
                    values["amount"] = amount
        except _NotANumber as exc:
            problems.append((f"{where}.{exc.column}", str(exc)))
            continue
        try:
            entries.append(TransactionIn.model_validate(values))
            labels.append(where)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(part) for part in error["loc"]) or "row"
                problems.append((f"{where}.{field}" if field != "row" else where, error["msg"]))
    if problems:
        raise ImportRefused(problems)
    if not entries:
        raise ImportRefused([("body", "the file has no rows")])
    return entries, labels


def render(entries: Sequence[PortfolioTransaction]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
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
