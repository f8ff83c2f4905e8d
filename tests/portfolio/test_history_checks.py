"""A listed symbol cannot be bought before it has data: the first daily close the market data
service knows (the simulated market starts in 1970)."""

from __future__ import annotations

import httpx

from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/portfolio"


def lot(symbol: str, day: str) -> dict[str, str]:
    return {"symbol": symbol, "quantity": "1", "purchasePrice": "10", "purchaseDate": day}


async def test_buys_before_a_symbol_has_data_are_refused_naming_each_row(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = {
        "name": "Time travel",
        "assets": [
            lot("AAPL", "2020-03-02"),
            lot("AAPL", "1965-06-01"),
            lot("MSFT", "1969-12-31"),
            lot("MSFT", "1971-03-01"),
            lot("AAPL", "1969-07-21"),
        ],
    }
    refused = await client.post(f"{V1}/", json=body, headers=alice.headers)
    problem = assert_problem(refused, 422)
    assert error_fields(problem) == {
        "body.assets[1].date",
        "body.assets[2].date",
        "body.assets[4].date",
    }
    assert "AAPL has no price on or before 1965-06-01" in problem["detail"]
    assert (await client.get(f"{V1}/", headers=alice.headers)).json()["portfolios"] == []


async def test_a_buy_on_a_weekend_after_the_first_close_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = {"name": "Early", "assets": [lot("AAPL", "1970-01-03"), lot("BTC-USD", "2021-01-01")]}
    created = await client.post(f"{V1}/", json=body, headers=alice.headers)
    assert created.status_code == 201, created.text


async def test_a_transaction_before_data_is_refused_and_the_ledger_is_unchanged(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(f"{V1}/", json={"name": "Ledger"}, headers=alice.headers)
    portfolio_id = created.json()["portfolioId"]
    buy = {"date": "1960-01-04", "type": "buy", "symbol": "SPY", "quantity": "1", "price": "5"}
    refused = await client.post(
        f"{V1}/{portfolio_id}/transactions", json=buy, headers=alice.headers
    )
    assert error_fields(assert_problem(refused, 422)) == {"body.date"}
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json()["transactions"] == []
