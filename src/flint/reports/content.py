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

from decimal import Decimal

from flint.portfolio.api import ChartKind, Performance, chart_marks, draw_chart
from flint.reports.csvexport import to_csv
from flint.reports.document import (
    Chart,
    Column,
    Document,
    Material,
    Table,
    day,
    money,
    percent,
    ratio,
)
from flint.reports.tables import (
    _lots,
    _window_entries,
    closed_lots_table,
    holdings_table,
    months_table,
    open_lots_table,
    transactions_table,
)

__all__ = [
    "TITLES",
    "Chart",
    "Column",
    "Document",
    "Material",
    "Table",
    "build",
    "to_csv",
]

TITLES = {
    "portfolio_summary": "Portfolio summary",
    "performance": "Performance report",
    "transactions": "Transaction statement",
    "tax_lots": "Tax lots (FIFO)",
}


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
    kinds: list[ChartKind] = []
    if material.type == "portfolio_summary":
        document.figures = _summary_figures(perf)
        document.one_page = True
        periods = periods_table(perf)
        document.tables = [*([periods] if periods else []), holdings_table(perf)]
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
        document.charts = _charts(material, kinds)
    return document


_CHART_CAPTIONS: dict[str, str] = {
    "value": "Value over the period",
    "allocation": "Allocation at the end",
    "benchmark": "Cumulative return against {benchmark}",
    "drawdown": "Drawdown from the previous peak",
}
_SUMMARY_CHARTS: dict[str, tuple[float, tuple[float, float]]] = {
    # kind: (share of the page's width, size drawn in inches); side by side, at about 4/5 of
    # the drawn size, so the summary fits one page with its text at 6 points or more
    "value": (0.6, (5.0, 3.0)),
    "allocation": (0.4, (3.4, 3.0)),
}


def _charts(material: Material, kinds: list[ChartKind]) -> list[Chart]:
    perf = material.performance
    perf_dict = perf.model_dump(by_alias=True)
    marks = chart_marks(material.ledger)
    charts: list[Chart] = []
    for kind in kinds:
        share, size, dpi = 1.0, (10.0, 5.5), 100
        if material.type == "portfolio_summary":  # smaller charts, as sharp in print
            (share, size), dpi = _SUMMARY_CHARTS[kind], 150
        png = draw_chart(
            perf_dict, kind, "png", material.portfolio_name, marks=marks, size=size, dpi=dpi
        )
        caption = _CHART_CAPTIONS[kind].format(benchmark=perf.benchmark)
        charts.append(Chart(caption, png, aspect=size[1] / size[0], share=share))
    return charts


def _summary_figures(perf: Performance) -> list[tuple[str, str]]:
    """Four rows: money; returns; the portfolio's return beside the benchmark's, with beta and
    alpha; risk."""
    return [
        ("Market value", money(perf.market_value)),
        ("Cost basis", money(perf.cost_basis)),
        ("Unrealized P&L", money(perf.unrealized_pnl)),
        ("Realized P&L", money(perf.realized_pnl)),
        ("Dividends", money(perf.dividends)),
        ("Total return", percent(perf.total_return)),
        ("Money-weighted return", percent(perf.mwr)),
        ("Annualized return", percent(perf.annualized_return)),
        ("Time-weighted return", percent(perf.twr)),
        (f"{perf.benchmark} return (benchmark)", percent(perf.benchmark_return)),
        (f"Beta to {perf.benchmark}", ratio(perf.beta)),
        ("Alpha (annualized)", percent(perf.alpha)),
        ("Volatility (annualized)", percent(perf.volatility)),
        ("Sharpe ratio", ratio(perf.sharpe)),
        ("Sortino ratio", ratio(perf.sortino)),
        ("Max drawdown", percent(perf.max_drawdown)),
    ]


# --- the period table (1D .. MAX), wired when the performance carries `periods` ---------------


PERIOD_COLUMNS = (
    ("Period", None),
    ("From", "start"),
    ("Start value", "start_value"),
    ("Net flows", "net_flows"),
    ("Gain", "absolute_gain"),
    ("End value", "end_value"),
    ("TWR", "twr"),
    ("MWR", "mwr"),
)


def periods_table(perf: Performance) -> Table | None:
    """The figures of each period (1D, WTD, MTD, YTD, 1Y, 3Y, 5Y, MAX), or None when the
    performance has none. A period reaching back to the first day is the same as MAX and
    shown once, as MAX (a young portfolio's YTD, 1Y, 3Y and 5Y)."""
    periods = perf.periods
    if not periods:
        return None
    whole = periods.get("MAX")
    rows = [
        [
            name,
            day(period.start),
            money(period.start_value),
            money(period.net_flows),
            money(period.absolute_gain),
            money(period.end_value),
            percent(period.twr),
            percent(period.mwr),
        ]
        for name, period in periods.items()
        if name == "MAX" or whole is None or period.start != whole.start
    ]
    return Table(
        "Periods",
        [Column(PERIOD_COLUMNS[0][0]), *(Column(c, numeric=True) for c, _ in PERIOD_COLUMNS[1:])],
        rows,
        empty="No periods.",
    )


def _performance_note(material: Material) -> str:
    return (
        f"Figures are in {material.base_currency} from daily closes. Time-weighted return "
        "chains daily returns with flows at the start of the day; money-weighted return is "
        "the annual rate (XIRR) of the money put in and taken out; ratios are annualized "
        "over 252 trading days. Realized P&L uses average cost."
    )


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
