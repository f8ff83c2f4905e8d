"""What the trades routes answer about someone else's account and a trade already final (found
by the reliability issue's authorization and schema sweeps)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Account, assert_problem, error_fields
from tests.trades.conftest import link_sandbox

V1 = "/api/v1/trades"


def order(account_id: str) -> dict[str, str]:
    return {"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "1"}


@pytest.mark.usefixtures("worker")
async def test_listing_trades_of_another_users_account_is_404(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    placed = await client.post(f"{V1}/execute", json=order(account_id), headers=alice.headers)
    assert placed.status_code == 201, placed.text
    own = await client.get(V1, params={"accountId": account_id}, headers=alice.headers)
    assert [t["tradeId"] for t in own.json()["trades"]] == [placed.json()["tradeId"]]

    foreign = await client.get(V1, params={"accountId": account_id}, headers=bob.headers)
    assert_problem(foreign, 404)
    unknown = await client.get(
        V1, params={"accountId": "0b6f5e3c-1d2a-4c4b-9f0e-3a1b2c3d4e5f"}, headers=alice.headers
    )
    assert_problem(unknown, 404)


@pytest.mark.usefixtures("worker")
async def test_canceling_a_filled_or_canceled_trade_is_a_409(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    filled = await client.post(f"{V1}/execute", json=order(account_id), headers=alice.headers)
    assert filled.json()["status"] == "filled", filled.text
    refused = await client.delete(f"{V1}/{filled.json()['tradeId']}", headers=alice.headers)
    body = assert_problem(refused, 409)
    assert "already filled" in body["detail"]
    after = await client.get(f"{V1}/{filled.json()['tradeId']}", headers=alice.headers)
    assert after.json()["status"] == "filled"


@pytest.mark.parametrize("quantity", ["1_000", "\uff11\uff12", "1,000", "0x10", " 1e2_0 "])
async def test_a_quantity_is_ascii_decimal_text_or_refused(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, quantity: str
) -> None:
    """One decimal grammar for money and quantities (ASCII digits and a point):
    Python's Decimal also reads ``1_000`` and full-width digits, which placed a 1,000-share
    order and booked 12 units."""
    account_id = (await link_sandbox(client, alice))["accountId"]
    body = order(account_id) | {"quantity": quantity}
    refused = await client.post(f"{V1}/execute", json=body, headers=alice.headers)
    assert "body.quantity" in error_fields(assert_problem(refused, 422))
    assert (await client.get(V1, headers=alice.headers)).json()["trades"] == []

    portfolio = await client.post("/api/v1/portfolio/", json={"name": "P"}, headers=alice.headers)
    url = f"/api/v1/portfolio/{portfolio.json()['portfolioId']}/transactions"
    entry = {"date": "2024-01-02", "type": "deposit", "amount": quantity}
    booked = await client.post(url, json=entry, headers=alice.headers)
    assert "body.amount" in error_fields(assert_problem(booked, 422))
