"""What a report says, whatever it is printed as: the figures, tables, charts and notes of each
type (built here once), laid out by `pdf` and `html`; and the CSV each type yields.

The numbers come from the portfolio feature (`flint.portfolio.performance`, the ledger) and
the tax lots from `lots`; nothing here computes a metric, it only selects and formats.

CSV by type:

* ``portfolio_summary``: the holdings (and the cash line) as of the end date.
* ``performance``: the daily series (value, net flow, daily and cumulative return, benchmark).
* ``transactions``: the ledger rows in the period, in the columns the portfolio import takes.
* ``tax_lots``: open lots and the lots closed in the period, one row each, ``status`` telling
  which.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from flint.portfolio import charts, csvio
from flint.portfolio.models import PortfolioTransaction
from flint.portfolio.schemas import Performance
from flint.portfolio.valuation import Entry
from flint.reports import lots as fifo_lots

TITLES = {
    "portfolio_summary": "Portfolio summary",
    "performance": "Performance report",
    "transactions": "Transaction statement",
    "tax_lots": "Tax lots (FIFO)",
}
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
    ledger: Sequence[PortfolioTransaction]
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


# --- formatting ---------------------------------------------------------------------------------


def money(value: float | Decimal | None) -> str:
    if value is None:
        return DASH
    text = f"{value:,.2f}"
    return "0.00" if text == "-0.00" else text


def percent(value: float | Decimal | None) -> str:
    if value is None:
        return DASH
    text = f"{value * 100:,.2f}%"
    return "0.00%" if text == "-0.00%" else text


def exact(value: Decimal | None) -> str:
    """A recorded amount: two places, or every place it has (a crypto price of 0.00001234)."""
    if value is None:
        return DASH
    if value == value.quantize(CENT):
        return money(value)
    return format(value.normalize(), ",f")


def ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:,.2f}"


def quantity(value: Decimal | None) -> str:
    return DASH if value is None else format(value.normalize(), ",f")


def day(value: date | None) -> str:
    return DASH if value is None else value.isoformat()


def _exact(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


def _cents(value: Decimal | None) -> str:
    return "" if value is None else format(value.quantize(CENT, ROUND_HALF_EVEN), "f")


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


# --- the document ---------------------------------------------------------------------------


def build(material: Material, *, with_charts: bool) -> Document:
    perf = material.performance
    document = Document(
        title=TITLES[material.type],
        portfolio=material.portfolio_name,
        period=f"{day(material.first_day)} to {day(material.end)}",
        currency=material.base_currency,
        benchmark=material.benchmark
        if material.type in ("portfolio_summary", "performance")
        else None,
        generated_at=material.generated_at,
        figures=[],
    )
    kinds: list[charts.Kind] = []
    if material.type == "portfolio_summary":
        document.figures = [
            ("Market value", money(perf.market_value)),
            ("Cost basis", money(perf.cost_basis)),
            ("Unrealized P&L", money(perf.unrealized_pnl)),
            ("Realized P&L", money(perf.realized_pnl)),
            ("Dividends", money(perf.dividends)),
            ("Total return", percent(perf.total_return)),
            ("Time-weighted return", percent(perf.twr)),
            ("Money-weighted return", percent(perf.mwr)),
        ]
        document.tables = [holdings_table(perf)]
        document.notes = [_performance_note(material)]
        kinds = ["value", "allocation"]
    elif material.type == "performance":
        document.figures = [
            ("Market value", money(perf.market_value)),
            ("Time-weighted return", percent(perf.twr)),
            ("Money-weighted return", percent(perf.mwr)),
            ("Annualized return", percent(perf.annualized_return)),
            ("Volatility", percent(perf.volatility)),
            ("Sharpe ratio", ratio(perf.sharpe)),
            ("Sortino ratio", ratio(perf.sortino)),
            ("Max drawdown", percent(perf.max_drawdown)),
            (f"{perf.benchmark} return", percent(perf.benchmark_return)),
            ("Beta", ratio(perf.beta)),
            ("Alpha", percent(perf.alpha)),
            ("Total return", percent(perf.total_return)),
        ]
        document.tables = [months_table(perf), holdings_table(perf)]
        document.notes = [_performance_note(material)]
        if perf.max_drawdown_start and perf.max_drawdown_end:
            document.notes.append(
                f"The maximum drawdown ran from {day(perf.max_drawdown_start)} to "
                f"{day(perf.max_drawdown_end)}."
            )
        kinds = ["benchmark", "value", "drawdown"]
    elif material.type == "transactions":
        document.figures = _transaction_figures(material)
        document.tables = [transactions_table(material)]
        document.notes = [
            "Rows are as recorded in the ledger, in its currencies; the totals above are in "
            f"{material.base_currency}, converted at the rate of each transaction's day."
        ]
    else:
        lots = _lots(material)
        open_gain = [lot.gain for lot in lots.open if lot.gain is not None]
        closed = lots.closed
        document.figures = [
            ("Open lots", str(len(lots.open))),
            ("Cost basis (open)", money(sum((lot.cost for lot in lots.open), Decimal(0)))),
            ("Unrealized gain", money(sum(open_gain, Decimal(0)))),
            (
                "of which long-term",
                money(sum((g.gain or 0 for g in lots.open if g.term == "long"), Decimal(0))),
            ),
            ("Lots closed", str(len(closed))),
            ("Proceeds", money(sum((lot.proceeds for lot in closed), Decimal(0)))),
            ("Realized gain", money(sum((lot.gain for lot in closed), Decimal(0)))),
            (
                "of which long-term",
                money(sum((lot.gain for lot in closed if lot.term == "long"), Decimal(0))),
            ),
        ]
        document.tables = [open_lots_table(lots), closed_lots_table(lots)]
        document.notes = [
            "Lots are matched first in, first out (FIFO): a sale closes the oldest open lots of "
            "its symbol first and its proceeds are shared among them by units. A lot held more "
            "than one year is long-term. Splits change a lot's units, not its cost or date. "
            "The realized P&L of the other reports uses average cost instead, so the two can "
            "differ.",
            f"Amounts are in {material.base_currency}, converted at the rate of each "
            "transaction's day; open lots are valued at the last close on or before "
            f"{day(material.end)}.",
        ]
    if with_charts and kinds:
        perf_dict = perf.model_dump(by_alias=True)
        document.charts = [
            Chart(
                _CHART_CAPTIONS[kind].format(benchmark=perf.benchmark),
                charts.draw(perf_dict, kind, "png", material.portfolio_name),
            )
            for kind in kinds
        ]
    return document


_CHART_CAPTIONS: dict[str, str] = {
    "value": "Value over the period",
    "allocation": "Allocation at the end of the period",
    "benchmark": "Cumulative return against {benchmark}",
    "drawdown": "Drawdown from the previous peak",
}


def _performance_note(material: Material) -> str:
    return (
        f"Figures are in {material.base_currency} from daily closes. Time-weighted return "
        "chains daily returns with flows at the start of the day; money-weighted return is "
        "the annual rate (XIRR) of the money put in and taken out; ratios are annualized "
        "over 252 trading days. Realized P&L uses average cost."
    )


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


def _window_entries(material: Material) -> list[tuple[PortfolioTransaction, Entry]]:
    return [
        (row, entry)
        for row, entry in zip(material.ledger, material.base_entries, strict=True)
        if material.in_period(row.date)
    ]


def _transaction_figures(material: Material) -> list[tuple[str, str]]:
    totals: dict[str, Decimal] = {}
    fees = Decimal(0)
    pairs = _window_entries(material)
    for _, e in pairs:
        if e.type in ("buy", "sell") and e.quantity is not None and e.price is not None:
            gross = e.quantity * e.price
            totals[e.type] = totals.get(e.type, Decimal(0)) + gross
            fees += e.fee
        elif e.amount is not None:
            totals[e.type] = totals.get(e.type, Decimal(0)) + e.amount
            if e.type == "fee":
                fees += e.amount
    zero = Decimal(0)
    return [
        ("Transactions", str(len(pairs))),
        ("Bought", money(totals.get("buy", zero))),
        ("Sold", money(totals.get("sell", zero))),
        (
            "Dividends and interest",
            money(totals.get("dividend", zero) + totals.get("interest", zero)),
        ),
        ("Fees", money(fees)),
        ("Deposits", money(totals.get("deposit", zero))),
        ("Withdrawals", money(totals.get("withdrawal", zero))),
        ("Market value at end", money(material.performance.market_value)),
    ]


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


def _lots(material: Material) -> fifo_lots.Lots:
    prices = {
        h.symbol: Decimal(repr(h.price))
        for h in material.performance.holdings
        if h.price is not None
    }
    found = fifo_lots.fifo(material.base_entries, prices, material.end)
    closed = [lot for lot in found.closed if material.in_period(lot.sold)]
    return fifo_lots.Lots(found.open, closed)


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


# --- CSV ------------------------------------------------------------------------------------


def to_csv(material: Material) -> str:
    if material.type == "transactions":
        return csvio.render([row for row, _ in _window_entries(material)])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
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
            ]
        )
        classes = {a.symbol: a.asset_class for a in perf.allocation}
        for h in perf.holdings:
            writer.writerow(
                [
                    h.symbol,
                    classes.get(h.symbol, ""),
                    _exact(h.quantity),
                    _number(h.avg_cost),
                    _number(h.price),
                    _number(h.value),
                    _number(h.pnl),
                    _number(h.pnl_percent),
                    _number(h.weight),
                ]
            )
        for cash in (a for a in perf.allocation if a.asset_class == "cash"):
            row = [cash.symbol, "cash", "", "", "", _number(cash.value), "", ""]
            writer.writerow([*row, _number(cash.weight)])
    elif material.type == "performance":
        writer.writerow(
            ["date", "value", "net_flow", "daily_return", "cumulative_return", "benchmark_value"]
        )
        for p in perf.series:
            writer.writerow(
                [
                    p.date.isoformat(),
                    _number(p.value),
                    _number(p.net_flow),
                    _number(p.daily_return),
                    _number(p.cumulative_return),
                    _number(p.benchmark_value),
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
