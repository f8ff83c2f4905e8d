"""Money in the portfolio and performance answers is exact: decimal strings rounded to the
base currency's minor unit, computed from the Decimal ledger, whose parts add up to the cent;
ratios and returns stay JSON numbers."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import Account
from tests.portfolio.test_valuation_days import new_portfolio, performance_of

PORTFOLIO = "/api/v1/portfolio"
CENTS = re.compile(r"^-?\d+\.\d{2}$")
MONEY = ("marketValue", "costBasis", "unrealizedPnl", "realizedPnl", "dividends")


async def performance(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, **window: str
) -> dict[str, Any]:
    answer: dict[str, Any] = (await performance_of(client, who, portfolio_id, **window)).json()
    return answer


async def test_every_money_field_is_an_exact_decimal_string_whose_parts_add_up(
    client: httpx.AsyncClient, alice: Account
) -> None:
    lots = [
        {"symbol": "AAPL", "quantity": "3.3", "purchasePrice": "190.17"},
        {"symbol": "BTC-USD", "quantity": "0.0137", "purchasePrice": "42123.45"},
    ]
    lots[0]["purchaseDate"], lots[1]["purchaseDate"] = "2024-02-05", "2024-02-10"
    portfolio_id = await new_portfolio(
        client,
        alice,
        lots=lots,
        transactions=[
            {"date": "2024-02-12", "type": "deposit", "amount": "0.1"},
            {"date": "2024-02-13", "type": "deposit", "amount": "0.2"},
            {"date": "2024-03-01", "type": "sell", "symbol": "AAPL", "quantity": "1.1"}
            | {"price": "179.33", "fee": "0.07"},
            {"date": "2024-03-05", "type": "dividend", "symbol": "AAPL", "amount": "0.53"},
        ],
    )
    perf = await performance(client, alice, portfolio_id, end="2024-04-30")

    for name in MONEY:
        assert CENTS.match(perf[name]), (name, perf[name])
    for holding in perf["holdings"]:
        for name in ("value", "pnl"):
            assert CENTS.match(holding[name]), (name, holding)
        assert isinstance(holding["price"], str)
        assert isinstance(holding["avgCost"], str)
        assert isinstance(holding["quantity"], str)
        assert isinstance(holding["weight"], float)
    for point in perf["series"]:
        assert CENTS.match(point["value"]), point
        assert CENTS.match(point["netFlow"]), point
        assert isinstance(point["benchmarkValue"], str)
        assert isinstance(point["cumulativeReturn"], float)
    assert isinstance(perf["twr"], float)

    cash = next(Decimal(a["value"]) for a in perf["allocation"] if a["assetClass"] == "cash")
    # 0.1 + 0.2 paid in, 1.1 x 179.33 - 0.07 from the sale, 0.53 of dividend: 198.023, to the cent.
    assert str(cash) == "198.02"
    values = [Decimal(h["value"]) for h in perf["holdings"]]
    assert Decimal(perf["marketValue"]) == sum(values) + cash
    assert Decimal(perf["unrealizedPnl"]) == sum(values) - Decimal(perf["costBasis"])
    assert Decimal(perf["unrealizedPnl"]) == sum(Decimal(h["pnl"]) for h in perf["holdings"])
    assert perf["series"][-1]["value"] == perf["marketValue"]
    assert perf["dividends"] == "0.53"
    # Realised: 1.1 x 179.33 - 0.07 less the average cost of 1.1 of the 3.3 units.
    realized = (
        Decimal("1.1") * Decimal("179.33")
        - Decimal("0.07")
        - Decimal("3.3") * Decimal("190.17") * Decimal("1.1") / Decimal("3.3")
    )
    assert perf["realizedPnl"] == str(realized.quantize(Decimal("0.01")))

    portfolio = (await client.get(f"{PORTFOLIO}/{portfolio_id}", headers=alice.headers)).json()
    assert {(a["quantity"], a["purchasePrice"]) for a in portfolio["assets"]} == {
        ("3.3", "190.17"),
        ("0.0137", "42123.45"),
    }


async def test_the_openapi_schema_says_which_fields_are_money_and_which_are_ratios(
    app: FastAPI,
) -> None:
    schemas = app.openapi()["components"]["schemas"]
    performance = schemas["Performance"]["properties"]
    for name in MONEY:
        assert performance[name]["type"] == "string", name
        assert "decimal string" in performance[name]["description"], name
    for name in ("twr", "totalReturn", "annualizedReturn"):
        assert {"type": "number"} in performance[name]["anyOf"], name
    assert "shorter than a year" in performance["annualizedReturn"]["description"]
    point = schemas["SeriesPoint"]["properties"]
    assert point["value"]["type"] == "string"
    assert point["netFlow"]["type"] == "string"
    holding = schemas["HoldingPerformance"]["properties"]
    assert holding["pnl"]["type"] == "string"
    assert holding["weight"]["anyOf"][0]["type"] == "number"


async def test_the_cost_basis_is_one_figure_in_the_answer_the_sum_of_the_holdings_rows(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Each holding's cost basis is rounded to the cent; the answer's cost basis, at the top
    and in its totals, is their sum (the table adds up), not the exact sum rounded once: three
    holdings that cost 100.004 each and two that cost 70.007 and 180.007 are 550.02 in both
    places, where rounding once said 550.03 beside the top's 550.02 (and 550.02 without the
    fees, beside the rows' 550.00)."""
    lots = [
        {"symbol": symbol, "quantity": "1", "purchasePrice": "100.004", "purchaseDate": day}
        for symbol, day in (("AAPL", "2024-02-05"), ("MSFT", "2024-02-06"), ("VTI", "2024-02-07"))
    ]
    portfolio_id = await new_portfolio(
        client,
        alice,
        lots=lots,
        transactions=[
            {"date": "2024-02-08", "type": "buy", "symbol": "BND", "quantity": "1"}
            | {"price": "70.003", "fee": "0.004"},
            {"date": "2024-02-09", "type": "buy", "symbol": "GLD", "quantity": "1"}
            | {"price": "180.003", "fee": "0.004"},
        ],
    )
    perf = await performance(client, alice, portfolio_id, end="2024-04-30")
    rows = perf["holdings"]
    assert [row["symbol"] for row in rows] == ["AAPL", "BND", "GLD", "MSFT", "VTI"]
    assert [row["costBasis"] for row in rows] == ["100.00", "70.01", "180.01", "100.00", "100.00"]
    without_fees = [row["costBasisWithoutFees"] for row in rows]
    assert without_fees == ["100.00", "70.00", "180.00", "100.00", "100.00"]
    assert perf["costBasis"] == perf["totals"]["costBasis"] == "550.02"
    assert perf["totals"]["costBasisWithoutFees"] == "550.00"


async def test_a_window_without_a_session_is_worth_what_its_end_is_worth(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """A window of a weekend (or a holiday) has no valued day of its own: its market value is
    the holdings at their last close and the cash, as they are at its end (and its returns are
    null). It answered a market value of 0.00 beside holdings worth thousands."""
    lots = [
        {"symbol": "AAPL", "quantity": "10", "purchasePrice": "185", "purchaseDate": "2024-02-05"}
    ]
    deposit = {"date": "2024-02-06", "type": "deposit", "amount": "250.50"}
    portfolio_id = await new_portfolio(client, alice, [deposit], lots)
    # Friday the 8th is the last session
    to_sunday = await performance(client, alice, portfolio_id, end="2024-03-10")
    weekend = await performance(client, alice, portfolio_id, start="2024-03-09", end="2024-03-10")
    assert weekend["series"] == []
    assert weekend["twr"] is None
    values = sum(Decimal(h["value"]) for h in weekend["holdings"])
    assert values > 1000
    assert Decimal(weekend["marketValue"]) == values + Decimal("250.50")
    assert weekend["marketValue"] == to_sunday["marketValue"]
    assert Decimal(weekend["unrealizedPnl"]) == values - Decimal(weekend["costBasis"])
