"""The document a report becomes, which `pdf` and `html` lay out (figures, tables, charts,
notes), the material it is made from, and how its values are written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from flint.portfolio.api import Entry, LedgerRow, Performance

DASH = "\u2014"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Material:
    """Everything a report is made from, gathered by the service before rendering."""

    type: str
    portfolio_name: str
    base_currency: str
    start: date | None
    end: date
    benchmark: str
    ledger: Sequence[LedgerRow]
    base_entries: Sequence[Entry]
    """The ledger in the base currency (same order), as the performance figures see it."""
    performance: Performance
    generated_at: datetime

    @property
    def first_day(self) -> date:
        return self.start or min((e.date for e in self.ledger), default=self.end)

    def in_period(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and day <= self.end


@dataclass(frozen=True)
class Column:
    label: str
    numeric: bool = False


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list[str]]
    total: list[str] | None = None
    empty: str = "Nothing in this period."


@dataclass(frozen=True)
class Chart:
    caption: str
    png: bytes
    aspect: float = 5.5 / 10
    """Height over width, as drawn."""
    share: float = 1.0
    """The part of the page's width it takes: charts whose shares add up to 1 share a row."""


@dataclass
class Document:
    title: str
    portfolio: str
    period: str
    currency: str
    benchmark: str | None
    """Named only by the reports that compare with it."""
    generated_at: datetime
    figures: list[tuple[str, str]]
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    one_page: bool = False
    """Printed on one page if smaller charts make it fit (a summary); else as it flows."""


# --- formatting ---------------------------------------------------------------------------------


Number = float | Decimal | str
"""A figure as the performance gives it: a float, a Decimal, or a decimal string."""


def _exact_number(value: Number) -> float | Decimal:
    return Decimal(value) if isinstance(value, str) else value


def money(value: Number | None) -> str:
    if value is None:
        return DASH
    text = f"{_exact_number(value):,.2f}"
    return "0.00" if text == "-0.00" else text


def percent(value: Number | None) -> str:
    if value is None:
        return DASH
    text = f"{_exact_number(value) * 100:,.2f}%"
    return "0.00%" if text == "-0.00%" else text


def exact(value: Decimal | None) -> str:
    """A recorded amount: two places, or every place it has (a crypto price of 0.00001234)."""
    if value is None:
        return DASH
    if value == value.quantize(CENT):
        return money(value)
    return format(value.normalize(), ",f")


def ratio(value: Number | None) -> str:
    return DASH if value is None else f"{_exact_number(value):,.2f}"


def quantity(value: Decimal | None) -> str:
    return DASH if value is None else format(value.normalize(), ",f")


def day(value: date | None) -> str:
    return DASH if value is None else value.isoformat()
