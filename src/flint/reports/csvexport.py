"""The CSV each report type yields (what each one holds is listed in `flint.reports.content`)."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from flint.portfolio.api import ledger_csv
from flint.reports.document import CENT, Material
from flint.reports.tables import _lots, _window_entries

if TYPE_CHECKING:
    from _csv import Writer


def _exact(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _cents(value: Decimal | None) -> str:
    return "" if value is None else format(value.quantize(CENT, ROUND_HALF_EVEN), "f")


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _money(value: Decimal | None) -> str:
    """Money as the API sends it: the exact decimal string."""
    return "" if value is None else format(value, "f")


def to_csv(material: Material) -> str:
    """The report's table; money columns are in the portfolio's base currency, which each row
    names in its last column, ``currency`` (the transactions: each row's own currency)."""
    if material.type == "transactions":
        return ledger_csv([row for row, _ in _window_entries(material)])
    out = io.StringIO()
    writer = _Labelled(csv.writer(out, lineterminator="\n"), material.base_currency)
    perf = material.performance
    if material.type == "portfolio_summary":
        writer.writerow(
            [
                "symbol",
                "asset_class",
                "quantity",
                "avg_cost",
                "price",
                "value",
                "pnl",
                "pnl_percent",
                "weight",
                "currency",
            ]
        )
        classes = {a.symbol: a.asset_class for a in perf.allocation}
        for h in perf.holdings:
            writer.writerow(
                [
                    h.symbol,
                    classes.get(h.symbol, ""),
                    _exact(h.quantity),
                    _money(h.avg_cost),
                    _money(h.price),
                    _money(h.value),
                    _money(h.pnl),
                    _number(h.pnl_percent),
                    _number(h.weight),
                ]
            )
        for cash in (a for a in perf.allocation if a.asset_class == "cash"):
            row = [cash.symbol, "cash", "", "", "", _money(cash.value), "", ""]
            writer.writerow([*row, _number(cash.weight)])
    elif material.type == "performance":
        writer.writerow(
            [
                "date",
                "value",
                "net_flow",
                "daily_return",
                "cumulative_return",
                "benchmark_value",
                "currency",
            ]
        )
        for p in perf.series:
            writer.writerow(
                [
                    p.date.isoformat(),
                    _money(p.value),
                    _money(p.net_flow),
                    _number(p.daily_return),
                    _number(p.cumulative_return),
                    _money(p.benchmark_value),
                ]
            )
    else:
        lots = _lots(material)
        writer.writerow(
            [
                "status",
                "symbol",
                "acquired",
                "disposed",
                "quantity",
                "cost_basis",
                "proceeds",
                "market_value",
                "gain",
                "term",
                "currency",
            ]
        )
        for o in lots.open:
            writer.writerow(
                [
                    "open",
                    o.symbol,
                    o.acquired.isoformat(),
                    "",
                    _exact(o.quantity),
                    _cents(o.cost),
                    "",
                    _cents(o.value),
                    _cents(o.gain),
                    o.term,
                ]
            )
        for c in lots.closed:
            writer.writerow(
                [
                    "closed",
                    c.symbol,
                    c.acquired.isoformat(),
                    c.sold.isoformat(),
                    _exact(c.quantity),
                    _cents(c.cost),
                    _cents(c.proceeds),
                    "",
                    _cents(c.gain),
                    c.term,
                ]
            )
    return out.getvalue()


class _Labelled:
    """A CSV writer whose data rows end with the currency their money is in (the header row
    names the column itself)."""

    def __init__(self, writer: Writer, currency: str) -> None:
        self._writer = writer
        self._currency = currency
        self._header = True

    def writerow(self, row: list[str]) -> None:
        if self._header:
            self._header = False
            self._writer.writerow(row)
            return
        self._writer.writerow([*row, self._currency])
