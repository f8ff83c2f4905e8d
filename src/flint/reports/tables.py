"""The tables of the reports (holdings, months, transactions, tax lots), and the ledger rows and
lots of the period that the tables, figures and CSV share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flint.portfolio.api import Entry, LedgerRow, Performance
from flint.reports import lots as fifo_lots
from flint.reports.document import (
    Column,
    Material,
    Table,
    day,
    exact,
    money,
    percent,
    quantity,
)


def _window_entries(material: Material) -> list[tuple[LedgerRow, Entry]]:
    return [
        (row, entry)
        for row, entry in zip(material.ledger, material.base_entries, strict=True)
        if material.in_period(row.date)
    ]


def _lots(material: Material) -> fifo_lots.Lots:
    prices = {h.symbol: h.price for h in material.performance.holdings if h.price is not None}
    found = fifo_lots.fifo(material.base_entries, prices, material.end)
    closed = [lot for lot in found.closed if material.in_period(lot.sold)]
    return fifo_lots.Lots(found.open, closed)


def holdings_table(perf: Performance) -> Table:
    rows = [
        [
            h.symbol,
            quantity(h.quantity),
            money(h.avg_cost),
            money(h.price),
            money(h.value),
            money(h.pnl),
            percent(h.pnl_percent),
            percent(h.weight),
        ]
        for h in perf.holdings
    ]
    for cash in (a for a in perf.allocation if a.asset_class == "cash"):
        rows.append(["Cash", "", "", "", money(cash.value), "", "", percent(cash.weight)])
    names = ["Symbol", "Quantity", "Avg cost", "Price", "Value", "P&L", "P&L %", "Weight"]
    return Table(
        f"Holdings on {day(perf.as_of)}",
        [Column(names[0]), *(Column(n, numeric=True) for n in names[1:])],
        rows,
        total=[
            "Total",
            "",
            "",
            "",
            money(perf.market_value),
            money(perf.unrealized_pnl),
            "",
            percent(1.0) if perf.market_value else "",
        ],
        empty="No holdings at the end of the period.",
    )


def months_table(perf: Performance) -> Table:
    """Month ends of the daily series: value, flows, and the month's return from the
    cumulative returns (portfolio and benchmark)."""
    months: dict[tuple[int, int], list[Any]] = {}
    for point in perf.series:
        months.setdefault((point.date.year, point.date.month), []).append(point)
    rows: list[list[str]] = []
    previous_growth = 1.0
    first_bench = next((p.benchmark_value for p in perf.series if p.benchmark_value), None)
    previous_bench = first_bench
    for (year, month), points in months.items():
        last = points[-1]
        growth = 1 + last.cumulative_return
        bench = last.benchmark_value
        rows.append(
            [
                f"{year}-{month:02d}",
                money(last.value),
                money(sum(p.net_flow for p in points)),
                percent(growth / previous_growth - 1 if previous_growth else None),
                percent(bench / previous_bench - 1 if bench and previous_bench else None),
            ]
        )
        previous_growth = growth
        previous_bench = bench or previous_bench
    return Table(
        "Month by month",
        [
            Column("Month"),
            Column("Value at month end", numeric=True),
            Column("Net flows", numeric=True),
            Column("Return", numeric=True),
            Column(f"{perf.benchmark} return", numeric=True),
        ],
        rows,
        empty="No valuation days in this period.",
    )


def transactions_table(material: Material) -> Table:
    rows = [
        [
            day(row.date),
            row.type,
            row.symbol or "",
            quantity(row.quantity) if row.quantity is not None else "",
            exact(row.price) if row.price is not None else "",
            exact(row.fee) if row.fee else "",
            exact(row.amount) if row.amount is not None else "",
            row.currency,
        ]
        for row, _ in _window_entries(material)
    ]
    names = ["Date", "Type", "Symbol", "Quantity", "Price", "Fee", "Amount", "Currency"]
    numeric = {"Quantity", "Price", "Fee", "Amount"}
    return Table(
        "Transactions",
        [Column(n, numeric=n in numeric) for n in names],
        rows,
        empty="No transactions in this period.",
    )


def open_lots_table(lots: fifo_lots.Lots) -> Table:
    names = ["Symbol", "Acquired", "Quantity", "Cost basis", "Price", "Value", "Gain", "Term"]
    return Table(
        "Open lots",
        [Column(n, numeric=n not in {"Symbol", "Acquired", "Term"}) for n in names],
        [
            [
                lot.symbol,
                day(lot.acquired),
                quantity(lot.quantity),
                money(lot.cost),
                money(lot.price),
                money(lot.value),
                money(lot.gain),
                lot.term,
            ]
            for lot in lots.open
        ],
        total=[
            "Total",
            "",
            "",
            money(sum((lot.cost for lot in lots.open), Decimal(0))),
            "",
            money(sum((lot.value or 0 for lot in lots.open), Decimal(0))),
            money(sum((lot.gain or 0 for lot in lots.open), Decimal(0))),
            "",
        ],
        empty="No open lots at the end of the period.",
    )


def closed_lots_table(lots: fifo_lots.Lots) -> Table:
    names = ["Symbol", "Acquired", "Sold", "Quantity", "Proceeds", "Cost basis", "Gain", "Term"]
    return Table(
        "Lots closed in the period",
        [Column(n, numeric=n not in {"Symbol", "Acquired", "Sold", "Term"}) for n in names],
        [
            [
                lot.symbol,
                day(lot.acquired),
                day(lot.sold),
                quantity(lot.quantity),
                money(lot.proceeds),
                money(lot.cost),
                money(lot.gain),
                lot.term,
            ]
            for lot in lots.closed
        ],
        total=[
            "Total",
            "",
            "",
            "",
            money(sum((lot.proceeds for lot in lots.closed), Decimal(0))),
            money(sum((lot.cost for lot in lots.closed), Decimal(0))),
            money(sum((lot.gain for lot in lots.closed), Decimal(0))),
            "",
        ],
        empty="No sales in this period.",
    )
