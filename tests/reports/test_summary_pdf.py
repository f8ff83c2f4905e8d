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
    # Side by side: the benchmark's box follows the portfolio's in the same row.
    assert lines.index("SPY RETURN (BENCHMARK)") == lines.index("TIME-WEIGHTED RETURN") + 2
    assert perf["benchmarkReturn"] is not None
    assert perf["volatility"] is not None


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("holdings", [2, 10])
async def test_a_usual_portfolios_summary_is_one_full_page(
    client: httpx.AsyncClient, alice: Account, holdings: int
) -> None:
    portfolio_id = await _portfolio_of(client, alice, holdings)
    pdf = await _summary(client, alice, portfolio_id)
    assert len(pdf.pages) == 1
    (page,) = pdf.pages
    lines = _lines(page)
    perf = await performance_of(client, alice, portfolio_id, utcnow().date())
    for holding in perf["holdings"]:
        assert holding["symbol"] in lines
    for text in ("Value over the period", "Allocation at the end", "Notes", "Page 1 of 1"):
        assert text in lines
    assert len(page.images) == 2  # the two charts


@pytest.mark.usefixtures("worker")
async def test_a_long_summary_flows_onto_a_second_page_with_the_tables_header_and_whole_charts(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await _portfolio_of(client, alice, 40)
    pdf = await _summary(client, alice, portfolio_id)
    assert len(pdf.pages) == 2
    first, second = (_lines(page) for page in pdf.pages)
    perf = await performance_of(client, alice, portfolio_id, utcnow().date())
    symbols = [h["symbol"] for h in perf["holdings"]]
    on_first = [s for s in symbols if s in first]
    assert 0 < len(on_first) < len(symbols)  # the table fills page one, then goes on
    assert symbols[len(on_first) :] == [s for s in symbols if s in second]
    header = "Symbol Quantity Avg cost Price Value P&L P&L % Weight"
    assert header in " ".join(first)
    assert header in " ".join(second)
    assert [len(page.images) for page in pdf.pages] == [0, 2]  # the chart row is not split
    assert "Notes" in second
    assert "Page 2 of 2" in second


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
