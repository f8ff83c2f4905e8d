"""What OFX bank, credit-card and investment-cash rows become, and the pieces every OFX
statement is read with: each transaction element converted on its own by ofxtools, so a bad
one is named with its reason."""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ofxtools.models
from ofxtools import Types
from ofxtools.models.bank.stmt import STMTTRN
from ofxtools.models.base import Aggregate, UnknownTagWarning
from pydantic import ValidationError

from flint.errors import error_message
from flint.portfolio.imports.base import Parsed
from flint.portfolio.schemas import TransactionIn

_CANT_SET = re.compile(r"Can't set \w+\.(\w+) to")


class Refusal(Exception):
    """One transaction cannot be imported; ``element`` names its part at fault, if one is."""

    def __init__(self, why: str, element: str | None = None) -> None:
        super().__init__(why)
        self.why = why
        self.element = element


@dataclass
class Reader:
    """The entries a file gives, and the problems found on the way."""

    curdef: str = "USD"
    parsed: Parsed = field(default_factory=Parsed)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def add(
        self,
        where: str,
        source_id: str | None,
        elements: Mapping[str, str],
        **values: Any,
    ) -> None:
        """One transaction; a field the schema refuses is named by the OFX element it came
        from (``elements`` maps ``quantity`` to ``UNITS``, and so on)."""
        try:
            entry = TransactionIn.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                name = elements.get(str(error["loc"][0])) if error["loc"] else None
                self.problems.append((f"{where}.{name}" if name else where, error_message(error)))
            return
        self.parsed.add(entry, where, source_id)

    def refuse(self, where: str, refused: Refusal) -> None:
        name = f"{where}.{refused.element}" if refused.element else where
        self.problems.append((name, refused.why))

    def currency(self, transaction: Any) -> str:
        """The currency of a transaction's amounts: its ``CURRENCY``, else the statement's
        (``ORIGCURRENCY``: converted to ``CURDEF`` already)."""
        own = getattr(transaction, "currency", None)
        return str(own.cursym) if own is not None else self.curdef


def number(value: Decimal | None, element: str) -> Decimal | None:
    """A finite number from the file, or `Refusal` naming its element."""
    if value is not None and not value.is_finite():
        raise Refusal(f"{value} is not a finite number", element)
    return value


def convert(element: ET.Element) -> Any:
    """ofxtools' model of one element; `Refusal` naming the part it rejects."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnknownTagWarning)
            return Aggregate.from_etree(element)
    except Exception as exc:  # ofxtools' checks raise ValueError, decimal and key errors
        named = _CANT_SET.search(str(exc))
        if named:
            raise Refusal(str(exc), named.group(1).upper()) from exc
        raise Refusal(*_locate(element, exc)) from exc


def _locate(element: ET.Element, exc: Exception) -> tuple[str, str | None]:
    """The first leaf whose value its OFX type refuses (ofxtools' own error may not say)."""
    for parent in element.iter():
        model = getattr(ofxtools.models, parent.tag, None)
        for leaf in parent:
            kind = getattr(model, leaf.tag.lower(), None) if model else None
            if len(leaf) or not isinstance(kind, Types.Element):
                continue
            try:
                kind.convert(leaf.text)
            except ArithmeticError:  # decimal's own errors say nothing readable
                return f"{leaf.text!r} is not a number", leaf.tag
            except Exception as bad:  # the same conversion ofxtools refused
                return f"{leaf.text!r} is not a valid {leaf.tag}: {bad}", leaf.tag
    return str(exc) or type(exc).__name__, None


def each(tranlist: ET.Element, where: str) -> list[tuple[str, ET.Element]]:
    """A transaction list's transactions, each named ``<where>/<TAG>[n]``."""
    seen: Counter[str] = Counter()
    out = []
    for child in tranlist:
        if child.tag in ("DTSTART", "DTEND"):
            continue
        seen[child.tag] += 1
        out.append((f"{where}/{child.tag}[{seen[child.tag]}]", child))
    return out


def bank_row(reader: Reader, where: str, row: STMTTRN) -> None:
    """A bank, card or investment-cash row into the portfolio's cash, by its sign."""
    amount = number(row.trnamt, "TRNAMT")
    if not amount:
        raise Refusal("a TRNAMT of 0 moves no cash", "TRNAMT")
    kind = str(row.trntype)
    if kind in ("INT", "DIV"):
        type_ = "interest" if amount > 0 else "fee"
    elif kind in ("FEE", "SRVCHG"):
        type_ = "fee" if amount < 0 else "deposit"
    else:
        type_ = "deposit" if amount > 0 else "withdrawal"
    reader.add(
        where,
        str(row.fitid),
        {"amount": "TRNAMT", "date": "DTPOSTED", "currency": "CURRENCY"},
        date=row.dtposted.date(),
        type=type_,
        # copy_abs: abs() rounds to the context, Overflow at the largest exponents
        amount=amount.copy_abs(),
        currency=reader.currency(row),
    )


def read(reader: Reader, statement: ET.Element, prefix: str) -> None:
    """A bank or credit-card statement's ``BANKTRANLIST``."""
    tranlist = statement.find("BANKTRANLIST")
    if tranlist is None:
        return
    for where, element in each(tranlist, f"{prefix}BANKTRANLIST"):
        try:
            if element.tag != "STMTTRN":
                raise Refusal(f"a {element.tag} is not a bank transaction")
            bank_row(reader, where, convert(element))
        except Refusal as refused:
            reader.refuse(where, refused)
