"""Brokers' own exports imported through ``POST /portfolio/{id}/import?preset=``: each sample
(tests/portfolio/samples, written after the published layouts) by its preset's name and by
``auto``; the ledger holds the file's rows and the holdings the file's own totals; a bad row
is 422 naming it, and nothing is imported."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_problem, error_fields
from tests.portfolio.test_import_export import new_portfolio

V1 = "/api/v1/portfolio"
SAMPLES = Path(__file__).parent / "samples"
Ledger = list[tuple[str, str, str | None, str | None, str | None, str, str | None, str]]
"""(date, type, symbol, quantity, price, fee, amount, currency) of each row."""

IBKR_XML: Ledger = [
    ("2024-01-10", "deposit", None, None, None, "0", "10000", "USD"),
    ("2024-01-12", "deposit", None, None, None, "0", "1000", "EUR"),
    ("2024-01-15", "buy", "AAPL", "10", "185.5", "1", None, "USD"),
    ("2024-01-16", "buy", "NVDA", "4", "480.25", "1", None, "USD"),
    ("2024-02-05", "interest", None, None, None, "0", "3.21", "USD"),
    ("2024-02-05", "fee", None, None, None, "0", "10", "USD"),
    ("2024-03-01", "sell", "AAPL", "5", "190.1", "1.03", None, "USD"),  # commission and tax
    ("2024-03-27", "dividend", "NVDA", None, None, "0", "0.16", "USD"),
    ("2024-05-16", "dividend", "AAPL", None, None, "0", "1.2", "USD"),
    ("2024-05-16", "tax", "AAPL", None, None, "0", "0.18", "USD"),
    ("2024-06-03", "withdrawal", None, None, None, "0", "500", "USD"),
    ("2024-06-10", "split", "NVDA", "10", None, "0", None, "USD"),
]
IBKR_CSV: Ledger = [
    ("2024-01-19", "deposit", None, None, None, "0", "5000", "USD"),
    ("2024-01-22", "buy", "MSFT", "3", "396.2", "1", None, "USD"),
    ("2024-01-23", "buy", "VOO", "2.5", "445.8", "0.35", None, "USD"),
    ("2024-03-14", "dividend", "MSFT", None, None, "0", "2.25", "USD"),
    ("2024-03-14", "tax", "MSFT", None, None, "0", "0.34", "USD"),
    ("2024-04-03", "fee", None, None, None, "0", "0.87", "USD"),
    ("2024-04-12", "sell", "MSFT", "1", "421.9", "1.01", None, "USD"),
]
TRADING212: Ledger = [
    ("2024-01-02", "deposit", None, None, None, "0", "5000", "GBP"),
    ("2024-01-03", "buy", "AAPL", "5.5", "184.25", "0", None, "USD"),
    ("2024-01-03", "fee", "AAPL", None, None, "0", "1.19", "GBP"),  # currency conversion fee
    ("2024-01-04", "buy", "MSFT", "3", "370.10", "0", None, "USD"),
    ("2024-01-04", "fee", "MSFT", None, None, "0", "1.31", "GBP"),
    ("2024-02-01", "sell", "AAPL", "2", "186.50", "0", None, "USD"),
    ("2024-02-01", "fee", "AAPL", None, None, "0", "0.44", "GBP"),
    ("2024-02-15", "dividend", "AAPL", None, None, "0", "0.56", "GBP"),
    ("2024-02-29", "interest", None, None, None, "0", "1.85", "GBP"),
    ("2024-03-05", "withdrawal", None, None, None, "0", "100", "GBP"),
]
DEGIRO_TRANSACTIONS: Ledger = [
    ("2024-01-15", "buy", "AAPL", "10", "185.50", "0", None, "USD"),
    ("2024-01-15", "fee", "AAPL", None, None, "0", "2", "EUR"),
    ("2024-01-16", "buy", "MSFT", "4", "372", "0", None, "USD"),
    ("2024-01-16", "fee", "MSFT", None, None, "0", "2", "EUR"),
    ("2024-03-01", "sell", "AAPL", "4", "190", "0", None, "USD"),
    ("2024-03-01", "fee", "AAPL", None, None, "0", "2", "EUR"),
]
DEGIRO_ACCOUNT: Ledger = [
    ("2024-01-05", "fee", None, None, None, "0", "2.50", "EUR"),
    ("2024-01-10", "deposit", None, None, None, "0", "2500", "EUR"),
    ("2024-01-15", "buy", "AAPL", "10", "185.5", "0", None, "USD"),
    ("2024-01-15", "fee", "AAPL", None, None, "0", "2", "EUR"),
    ("2024-02-16", "dividend", "AAPL", None, None, "0", "2.40", "USD"),
    ("2024-02-16", "tax", "AAPL", None, None, "0", "0.36", "USD"),
    ("2024-04-02", "interest", None, None, None, "0", "0.42", "EUR"),
]
SCHWAB: Ledger = [
    ("2024-01-10", "deposit", None, None, None, "0", "10000", "USD"),
    ("2024-01-15", "buy", "AAPL", "15", "185.50", "0", None, "USD"),
    ("2024-01-16", "buy", "NVDA", "4", "480.25", "0", None, "USD"),
    ("2024-01-16", "buy", "VOO", "2", "435.10", "0", None, "USD"),
    ("2024-02-29", "interest", None, None, None, "0", "1.23", "USD"),
    ("2024-03-01", "sell", "AAPL", "5", "190.10", "0.03", None, "USD"),
    ("2024-04-01", "buy", "VOO", "0.0123", "475.12", "0", None, "USD"),  # reinvested
    ("2024-04-01", "dividend", "VOO", None, None, "0", "5.84", "USD"),
    ("2024-05-16", "dividend", "AAPL", None, None, "0", "2.40", "USD"),
    ("2024-06-03", "withdrawal", None, None, None, "0", "500", "USD"),
    ("2024-06-10", "split", "NVDA", "10", None, "0", None, "USD"),  # 4 held, 36 added
]
FIDELITY: Ledger = [
    ("2024-01-10", "deposit", None, None, None, "0", "10000", "USD"),
    ("2024-01-15", "buy", "AAPL", "15", "185.50", "0", None, "USD"),
    ("2024-01-16", "buy", "VOO", "2", "435.10", "0", None, "USD"),
    ("2024-03-01", "sell", "AAPL", "5", "190.10", "0.03", None, "USD"),
    ("2024-03-28", "interest", None, None, None, "0", "12.34", "USD"),  # the core fund's
    ("2024-04-01", "buy", "VOO", "0.012", "475.12", "0", None, "USD"),  # reinvested
    ("2024-04-01", "dividend", "VOO", None, None, "0", "5.70", "USD"),
    ("2024-05-16", "dividend", "AAPL", None, None, "0", "2.40", "USD"),
]

Holdings = dict[str, tuple[str, str]]
"""Each symbol's (quantity, cost basis) at the end, from the file's own figures."""

CASES: dict[str, tuple[str, str, Ledger, Holdings, int]] = {
    # file, preset, ledger, holdings, how many rows carry the broker's id
    "ibkr_xml": (
        "ibkr_flex.xml",
        "ibkr-flex",
        IBKR_XML,
        # AAPL: half of 10 x 185.50 + 1; NVDA: 4 x 480.25 + 1, split 10 for 1.
        {"AAPL": ("5", "928.00"), "NVDA": ("40", "1922.00")},
        12,
    ),
    "ibkr_csv": (
        "ibkr_flex.csv",
        "ibkr-flex",
        IBKR_CSV,
        # MSFT: two thirds of 3 x 396.20 + 1; VOO: 2.5 x 445.80 + 0.35.
        {"MSFT": ("2", "793.07"), "VOO": ("2.5", "1114.85")},
        7,
    ),
    "trading212": (
        "trading212.csv",
        "trading212",
        TRADING212,
        # AAPL: 3.5 of 5.5 at 184.25 (644.875, half even); MSFT: 3 x 370.10.
        {"AAPL": ("3.5", "644.88"), "MSFT": ("3", "1110.30")},
        6,
    ),
    "degiro_transactions": (
        "degiro_transactions.csv",
        "degiro",
        DEGIRO_TRANSACTIONS,
        {"AAPL": ("6", "1113.00"), "MSFT": ("4", "1488.00")},
        3,
    ),
    "degiro_account": (
        "degiro_account.csv",
        "degiro",
        DEGIRO_ACCOUNT,
        {"AAPL": ("10", "1855.00")},
        2,
    ),
    "schwab": (
        "schwab.csv",
        "schwab",
        SCHWAB,
        # VOO: 870.20 + 0.0123 x 475.12 (the reinvested dividend).
        {"AAPL": ("10", "1855.00"), "NVDA": ("40", "1921.00"), "VOO": ("2.0123", "876.04")},
        0,
    ),
    "fidelity": (
        "fidelity.csv",
        "fidelity",
        FIDELITY,
        {"AAPL": ("10", "1855.00"), "VOO": ("2.012", "875.90")},
        0,
    ),
}


def _number(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    return sorted(
        (d, t, s, _number(q), _number(p), Decimal(f), _number(a), c)
        for d, t, s, q, p, f, a, c in ledger
    )


def _as_ledger(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return _rows(
        [
            (
                r["date"],
                r["type"],
                r["symbol"],
                r["quantity"],
                r["price"],
                r["fee"],
                r["amount"],
                r["currency"],
            )
            for r in rows
        ]
    )


async def _import(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, body: bytes, preset: str
) -> httpx.Response:
    return await client.post(
        f"{V1}/{portfolio_id}/import",
        params={"preset": preset},
        content=body,
        headers=who.headers | {"Content-Type": "text/csv"},
    )


@pytest.mark.parametrize("by_name", [True, False], ids=["named", "auto"])
@pytest.mark.parametrize("case", list(CASES))
async def test_a_broker_export_imports_its_rows_and_holdings(
    client: httpx.AsyncClient, alice: Account, case: str, by_name: bool
) -> None:
    file, preset, expected, holdings, _ = CASES[case]
    portfolio_id = await new_portfolio(client, alice)
    body = (SAMPLES / file).read_bytes()
    response = await _import(client, alice, portfolio_id, body, preset if by_name else "auto")
    assert response.status_code == 201, response.text
    assert _as_ledger(response.json()["transactions"]) == _rows(expected)
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert _as_ledger(ledger.json()["transactions"]) == _rows(expected)

    perf = await client.get(f"{V1}/{portfolio_id}/performance", headers=alice.headers)
    assert perf.status_code == 200, perf.text
    held = {
        h["symbol"]: (Decimal(h["quantity"]), Decimal(h["costBasis"]))
        for h in perf.json()["holdings"]
    }
    assert held == {s: (Decimal(q), Decimal(c)) for s, (q, c) in holdings.items()}


BAD: dict[str, tuple[str, str, tuple[str, str], str]] = {
    # file, preset, (text, replaced by), the problem's field
    "ibkr_xml": (
        "ibkr_flex.xml",
        "ibkr-flex",
        ('tradePrice="480.25"', 'tradePrice="4x0.25"'),
        "Trade[2].tradePrice",
    ),
    "ibkr_xml_option": (
        "ibkr_flex.xml",
        "ibkr-flex",
        (
            'assetCategory="STK" symbol="NVDA" description="NVIDIA CORP" conid="4815747" '
            'isin="US67066G1040" listingExchange="NASDAQ" tradeID',
            'assetCategory="OPT" symbol="NVDA" description="NVIDIA CORP" conid="4815747" '
            'isin="US67066G1040" listingExchange="NASDAQ" tradeID',
        ),
        "Trade[2]",
    ),
    "ibkr_csv": ("ibkr_flex.csv", "ibkr-flex", ('"20240122"', '"2024/01/22"'), "line 5.TradeDate"),
    "trading212": (
        "trading212.csv",
        "trading212",
        ("Limit buy,2024-01-04", "Stock split open,2024-01-04"),
        "line 4",
    ),
    "degiro_transactions": (
        "degiro_transactions.csv",
        "degiro",
        (
            "MICROSOFT CORPORATION - COMMON STOCK,US5949181045,NDQ",
            "ISHARES CORE MSCI WORLD UCITS ETF,IE00B4L5Y983,XET",
        ),
        "line 3.Product",
    ),
    "degiro_account": (
        "degiro_account.csv",
        "degiro",
        (',Dividend Tax,,USD,"-0,36"', ',Dividend Tax,,USD,"0,36"'),
        "line 3.Change amount",
    ),
    "schwab": (
        "schwab.csv",
        "schwab",
        ('"01/16/2024","Buy","VOO"', '"16/01/2024","Buy","VOO"'),
        "line 11.Date",
    ),
    "fidelity": (
        "fidelity.csv",
        "fidelity",
        ("Cash,2,435.10", "Cash,2,435.1O"),
        "line 11.Price ($)",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
async def test_a_bad_row_is_named_and_nothing_is_imported(
    client: httpx.AsyncClient, alice: Account, case: str
) -> None:
    file, preset, (old, new), field = BAD[case]
    text = (SAMPLES / file).read_text()
    assert text.count(old) == 1
    portfolio_id = await new_portfolio(client, alice)
    for name in (preset, "auto"):
        response = await _import(client, alice, portfolio_id, text.replace(old, new).encode(), name)
        assert error_fields(assert_problem(response, 422)) == {field}
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json() == {"transactions": [], "nextCursor": None}
