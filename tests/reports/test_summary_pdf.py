"""The summary PDF: the benchmark's return beside the portfolio's, the risk figures, and a
layout that fits one page for a usual portfolio and flows onto a second cleanly otherwise."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from flint.kit.time import utcnow
from flint.market.api import load_universe
from flint.reports.document import money, percent
from tests.conftest import Account
from tests.portfolio.test_performance_api import make_portfolio
from tests.reports.conftest import download, finished, request_report
from tests.reports.test_reports_api import PORTFOLIO, performance_of


def _percent(value: float | None) -> str:
    return "\u2014" if value is None else f"{value * 100:,.2f}%"


def _ratio(value: float | None) -> str:
    return "\u2014" if value is None else f"{value:,.2f}"


async def _summary(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, **fields: Any
) -> PdfReader:
    queued = await request_report(client, who, portfolio_id, **fields)
    report = await finished(client, who, queued["reportId"])
    assert report["status"] == "completed", report
    return PdfReader(io.BytesIO((await download(client, who, report)).content))


def _lines(page: Any) -> list[str]:
    return [line.strip() for line in page.extract_text().splitlines()]


async def _portfolio_of(client: httpx.AsyncClient, who: Account, holdings: int) -> str:
    """A portfolio of ``holdings`` equities of the packaged universe, bought 120 days ago."""
    day = (utcnow().date() - timedelta(days=120)).isoformat()
    symbols = [i.symbol for i in load_universe() if i.type == "equity" and i.currency == "USD"]
    assets = [
        {"symbol": symbol, "quantity": "3", "purchasePrice": "100", "purchaseDate": day}
        for symbol in symbols[:holdings]
    ]
    body = {"name": f"{holdings} stocks", "assets": assets}
    created = await client.post(f"{PORTFOLIO}/", json=body, headers=who.headers)
    assert created.status_code == 201, created.text
    portfolio_id: str = created.json()["portfolioId"]
    return portfolio_id


@pytest.mark.usefixtures("worker")
async def test_the_summary_shows_the_benchmarks_return_beside_the_portfolios_and_the_risk(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    perf = await performance_of(client, alice, portfolio_id, end)
    pdf = await _summary(client, alice, portfolio_id, end=end.isoformat())
    lines = _lines(pdf.pages[0])
    expected = {
        "TIME-WEIGHTED RETURN": _percent(perf["twr"]),
        "SPY RETURN (BENCHMARK)": _percent(perf["benchmarkReturn"]),
        "BETA TO SPY": _ratio(perf["beta"]),
        "ALPHA (ANNUALIZED)": _percent(perf["alpha"]),
        "VOLATILITY (ANNUALIZED)": _percent(perf["volatility"]),
        "SHARPE RATIO": _ratio(perf["sharpe"]),
        "SORTINO RATIO": _ratio(perf["sortino"]),
        "MAX DRAWDOWN": _percent(perf["maxDrawdown"]),
        "ANNUALIZED RETURN": _percent(perf["annualizedReturn"]),
        "MONEY-WEIGHTED RETURN": _percent(perf["mwr"]),
    }
    for label, value in expected.items():
        assert lines[lines.index(label) + 1] == value, label
    # The period table: a row per period of the answer, its returns as the API gives them.
    text = [" ".join(_lines(page)) for page in pdf.pages]
    periods = perf["periods"]
    assert set(periods) >= {"1D", "WTD", "MTD", "YTD", "MAX"}
    shown = [
        name
        for name, period in periods.items()
        if name == "MAX" or period["start"] != periods["MAX"]["start"]
    ]
    assert "1D" in shown
    assert shown[-1] == "MAX"
    for name in shown:
        period = periods[name]
        row = f"{name} {period['start']}"
        found = [page for page in text if row in page]
        assert found, f"no row for {name}"
        after = found[0].split(row, 1)[1]
        assert f"{_percent(period['twr'])} {_percent(period['mwr'])}" in after, name
    # Side by side: the benchmark's box follows the portfolio's in the same row.
    assert lines.index("SPY RETURN (BENCHMARK)") == lines.index("TIME-WEIGHTED RETURN") + 2
    assert perf["benchmarkReturn"] is not None
    assert perf["volatility"] is not None


@pytest.mark.usefixtures("worker")
async def test_a_small_portfolios_summary_is_one_full_page(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await _portfolio_of(client, alice, 2)
    pdf = await _summary(client, alice, portfolio_id)
    assert len(pdf.pages) == 1
    (page,) = pdf.pages
    lines = _lines(page)
    perf = await performance_of(client, alice, portfolio_id, utcnow().date())
    for holding in perf["holdings"]:
        assert holding["symbol"] in lines
    for text in ("Periods", "Value over the period", "Allocation at the end", "Notes"):
        assert text in lines
    assert "Page 1 of 1" in lines
    assert len(page.images) == 2  # the two charts


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(("holdings", "pages"), [(10, 2), (40, 3)])
async def test_a_longer_summary_flows_on_with_the_tables_header_and_whole_charts(
    client: httpx.AsyncClient, alice: Account, holdings: int, pages: int
) -> None:
    """The figures, periods and holdings first; the chart row and the notes together on the
    last page, never a chart alone."""
    portfolio_id = await _portfolio_of(client, alice, holdings)
    pdf = await _summary(client, alice, portfolio_id)
    assert len(pdf.pages) == pages
    texts = [_lines(page) for page in pdf.pages]
    perf = await performance_of(client, alice, portfolio_id, utcnow().date())
    symbols = [h["symbol"] for h in perf["holdings"]]
    listed = [s for lines in texts for s in symbols if s in lines]
    assert listed == symbols  # each once, in order, across the pages
    header = "Symbol Quantity Avg cost Price Value P&L P&L % Weight"
    for lines in texts:
        if any(s in lines for s in symbols):
            assert header in " ".join(lines)  # a continued table repeats its header
    assert [len(page.images) for page in pdf.pages] == [0] * (pages - 1) + [2]
    assert "Notes" in texts[-1]
    assert f"Page {pages} of {pages}" in texts[-1]


@pytest.mark.parametrize(
    ("value", "as_money", "as_percent"),
    [
        (1234.5, "1,234.50", "123,450.00%"),
        (Decimal("1234.5"), "1,234.50", "123,450.00%"),
        ("1234.50", "1,234.50", "123,450.00%"),
        ("-0.001", "0.00", "-0.10%"),
    ],
)
def test_report_figures_read_floats_decimals_and_decimal_strings_alike(
    value: float | Decimal | str, as_money: str, as_percent: str
) -> None:
    assert money(value) == as_money
    assert percent(value) == as_percent
