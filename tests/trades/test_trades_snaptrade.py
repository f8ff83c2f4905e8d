"""Trading through the SnapTrade adapter against its local stub, with a real worker: a
refusal by the broker ends the trade ``rejected`` and tells the user; a placement whose answer
is lost is retried by the worker without placing a second order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from flint.notifications.models import OutboxMessage
from tests.conftest import Account
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.server import RunningStub, run_stub

V1 = "/api/v1"


@pytest.fixture(scope="module")
def broker() -> Iterator[tuple[RunningStub, snaptrade_stub.SnapTradeState]]:
    app = snaptrade_stub.create_app()
    with run_stub(app) as running:
        yield running, app.state.snaptrade


@pytest.fixture
def settings_overrides(broker: tuple[RunningStub, Any]) -> dict[str, Any]:
    stub, _ = broker
    stub.control.set("success")
    return {
        "snaptrade_client_id": snaptrade_stub.CLIENT_ID,
        "snaptrade_consumer_key": snaptrade_stub.CONSUMER_KEY,
        "snaptrade_base_url": f"{stub.url}/api/v1",
        "vendor_retry_attempts": 2,
    }


async def link_snaptrade(
    client: httpx.AsyncClient, who: Account, state: snaptrade_stub.SnapTradeState
) -> str:
    portal = await client.post(
        f"{V1}/accounts/connect", json={"provider": "snaptrade"}, headers=who.headers
    )
    assert portal.status_code == 200, portal.text
    assert portal.json()["url"].startswith("http://127.0.0.1")
    authorization = state.connect(who.user_id)
    linked = await client.post(
        f"{V1}/accounts/link",
        json={"provider": "snaptrade", "authCode": authorization},
        headers=who.headers,
    )
    assert linked.status_code == 201, linked.text
    account_id: str = linked.json()["accountId"]
    return account_id


def placed_orders(state: snaptrade_stub.SnapTradeState, trade_id: str) -> list[dict[str, Any]]:
    return [
        order
        for account in state.accounts.values()
        for order in account.orders
        if order.get("client_order_id") == trade_id
    ]


@pytest.mark.usefixtures("worker")
async def test_a_broker_refusal_rejects_the_trade_and_tells_the_user(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    broker: tuple[RunningStub, snaptrade_stub.SnapTradeState],
) -> None:
    stub, state = broker
    account_id = await link_snaptrade(client, alice, state)
    stub.control.set("insufficient_funds")
    response = await client.post(
        f"{V1}/trades/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "1"},
        headers=alice.headers,
    )
    assert response.status_code == 201, response.text
    trade = response.json()
    assert trade["status"] == "rejected"
    assert trade["reason"].startswith("Insufficient buying power")
    assert placed_orders(state, trade["tradeId"]) == []
    async with app.state.runtime.sessions() as session:
        mails = (await session.execute(select(OutboxMessage))).scalars().all()
    assert [m.subject for m in mails] == ["Rejected: buy 1 AAPL"]
    assert mails[0].recipient == alice.email
    assert "Insufficient buying power" in mails[0].body


@pytest.mark.usefixtures("worker")
async def test_a_lost_answer_is_retried_without_a_second_order(
    client: httpx.AsyncClient,
    alice: Account,
    broker: tuple[RunningStub, snaptrade_stub.SnapTradeState],
) -> None:
    stub, state = broker
    account_id = await link_snaptrade(client, alice, state)
    # Every placement is recorded, then answered with a 500 (only placements: the scenario
    # leaves the other calls alone).
    stub.control.set("lost_response")
    response = await client.post(
        f"{V1}/trades/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"},
        headers=alice.headers,
    )
    trade_id = response.json()["tradeId"]
    for _ in range(100):
        trade = (await client.get(f"{V1}/trades/{trade_id}", headers=alice.headers)).json()
        if trade["status"] != "pending":
            break
        await asyncio.sleep(0.1)
    assert trade["status"] == "filled"
    orders = placed_orders(state, trade_id)
    assert len(orders) == 1
    assert trade["providerOrderId"] == orders[0]["brokerage_order_id"]
    events = (await client.get(f"{V1}/trades/{trade_id}/events", headers=alice.headers)).json()
    assert [(e["status"], e["detail"].get("source")) for e in events["events"]] == [
        ("pending", "api"),
        ("filled", "recovered"),
    ]
