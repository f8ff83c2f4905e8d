"""Trading through the SnapTrade adapter against its local stub, with a real worker: a
refusal by the broker ends the trade ``rejected`` and tells the user; a placement whose answer
is lost is looked up without placing a second order, at a brokerage with order listing and at
one without (there it stops ``unknown``); the sweep settles an ``unknown`` trade once SnapTrade
can tell. Every exchange with the stub is checked against SnapTrade's spec."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.applications import Starlette

from flint.kit.time import utcnow
from flint.notifications.models import OutboxMessage
from flint.trades import orders
from flint.trades.context import TradingContext
from flint.trades.models import Trade
from tests.conftest import Account
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.contract import Contract
from tests.stubs.server import RunningStub, run_stub

pytestmark = pytest.mark.waits

V1 = "/api/v1"


@pytest.fixture(scope="module")
def broker_app() -> Starlette:
    return snaptrade_stub.create_app()


@pytest.fixture(scope="module")
def broker(broker_app: Starlette) -> Iterator[tuple[RunningStub, snaptrade_stub.SnapTradeState]]:
    with run_stub(broker_app) as running:
        yield running, broker_app.state.snaptrade


@pytest.fixture(autouse=True)
def spec_checked(broker_app: Starlette, broker: Any) -> Iterator[None]:
    contract: Contract = broker_app.state.contract
    state: snaptrade_stub.SnapTradeState = broker_app.state.snaptrade
    contract.clear()
    state.recent_orders = True
    yield
    contract.assert_clean()


@pytest.fixture
def settings_overrides(broker: tuple[RunningStub, Any]) -> dict[str, Any]:
    stub, _ = broker
    stub.control.set("success")
    return {
        "snaptrade_client_id": snaptrade_stub.CLIENT_ID,
        "snaptrade_consumer_key": snaptrade_stub.CONSUMER_KEY,
        "snaptrade_base_url": stub.url,
        "vendor_retry_attempts": 2,
    }


FUNDS = Decimal("10000")  # enough for two AAPL at any simulated price these tests meet


async def link_snaptrade(
    client: httpx.AsyncClient,
    who: Account,
    state: snaptrade_stub.SnapTradeState,
    *,
    lists_orders: bool = True,
) -> str:
    portal = await client.post(
        f"{V1}/accounts/connect", json={"provider": "snaptrade"}, headers=who.headers
    )
    assert portal.status_code == 200, portal.text
    assert portal.json()["url"].startswith("http://127.0.0.1")
    authorization = state.connect(who.user_id, lists_orders=lists_orders)
    state.fund(FUNDS)
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


async def settled(client: httpx.AsyncClient, who: Account, trade_id: str) -> dict[str, Any]:
    for _ in range(150):
        trade: dict[str, Any] = (
            await client.get(f"{V1}/trades/{trade_id}", headers=who.headers)
        ).json()
        if trade["status"] != "pending":
            return trade
        await asyncio.sleep(0.1)
    return trade


@pytest.mark.usefixtures("worker")
async def test_a_brokerage_without_order_listing_trades(
    client: httpx.AsyncClient,
    alice: Account,
    broker: tuple[RunningStub, snaptrade_stub.SnapTradeState],
) -> None:
    # Its /orders answers 501: nothing needs it to place an order and follow it.
    _, state = broker
    account_id = await link_snaptrade(client, alice, state, lists_orders=False)
    response = await client.post(
        f"{V1}/trades/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "1"},
        headers=alice.headers,
    )
    trade = await settled(client, alice, response.json()["tradeId"])
    assert trade["status"] == "filled", trade
    assert len(placed_orders(state, trade["tradeId"])) == 1


@pytest.mark.usefixtures("worker")
async def test_a_lost_answer_without_order_listing_stops_unknown_with_one_order(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    bob: Account,
    broker: tuple[RunningStub, snaptrade_stub.SnapTradeState],
) -> None:
    stub, state = broker
    account_id = await link_snaptrade(client, alice, state, lists_orders=False)
    stub.control.set("lost_response")
    response = await client.post(
        f"{V1}/trades/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"},
        headers=alice.headers,
    )
    trade_id = response.json()["tradeId"]
    trade = await settled(client, alice, trade_id)
    assert trade["status"] == "unknown", trade
    assert "cannot confirm" in trade["reason"]
    assert len(placed_orders(state, trade_id)) == 1  # and never a second
    events = (await client.get(f"{V1}/trades/{trade_id}/events", headers=alice.headers)).json()
    assert [e["status"] for e in events["events"]] == ["pending", "unknown"]
    async with app.state.runtime.sessions() as session:
        mails = (await session.execute(select(OutboxMessage))).scalars().all()
    assert [m.subject for m in mails] == ["Unconfirmed: buy 2 AAPL"]

    # The sweep asks again; SnapTrade still cannot tell, so it stays unknown (a person's call).
    stub.control.set("success")
    async with app.state.runtime.sessions() as session:
        assert await orders.resolve(session, trading_context(app), uuid.UUID(trade_id)) == "unknown"
    assert len(placed_orders(state, trade_id)) == 1

    # The user looks at the brokerage and says which order it is.
    settle = f"{V1}/trades/{trade_id}/resolve"
    order_id = placed_orders(state, trade_id)[0]["brokerage_order_id"]
    for body, says in (
        ({"placed": True}, "providerOrderId is required"),
        ({"placed": False, "providerOrderId": order_id}, "only with placed: true"),
        ({"placed": True, "providerOrderId": str(uuid.uuid4())}, "no such order"),
    ):
        refused = await client.post(settle, json=body, headers=alice.headers)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert says in refused.text
    other = await client.post(settle, json={"placed": False}, headers=bob.headers)
    assert other.status_code == 404
    assert (await client.get(f"{V1}/trades/{trade_id}", headers=alice.headers)).json()[
        "status"
    ] == "unknown"  # nothing changed
    settled_trade = await client.post(
        settle, json={"placed": True, "providerOrderId": order_id}, headers=alice.headers
    )
    assert settled_trade.status_code == 200, settled_trade.text
    assert settled_trade.json()["status"] == "filled"
    assert settled_trade.json()["providerOrderId"] == order_id
    again = await client.post(settle, json={"placed": False}, headers=alice.headers)
    assert again.status_code == 409, again.text  # settled already: a state, not bad input
    assert "filled, not unknown" in again.json()["detail"]
    assert len(placed_orders(state, trade_id)) == 1


@pytest.mark.usefixtures("worker")
async def test_the_sweep_settles_an_unknown_trade_once_snaptrade_can_tell(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    broker: tuple[RunningStub, snaptrade_stub.SnapTradeState],
) -> None:
    stub, state = broker
    account_id = await link_snaptrade(client, alice, state)
    state.recent_orders = False  # the key may not read recent orders (403): cannot tell
    stub.control.set("lost_response")
    response = await client.post(
        f"{V1}/trades/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"},
        headers=alice.headers,
    )
    trade_id = response.json()["tradeId"]
    assert (await settled(client, alice, trade_id))["status"] == "unknown"

    stub.control.set("success")
    state.recent_orders = True
    async with app.state.runtime.sessions() as session:
        status = await orders.resolve(session, trading_context(app), uuid.UUID(trade_id))
        await session.commit()
    assert status == "filled"
    trade = (await client.get(f"{V1}/trades/{trade_id}", headers=alice.headers)).json()
    orders_at_broker = placed_orders(state, trade_id)
    assert len(orders_at_broker) == 1
    assert trade["providerOrderId"] == orders_at_broker[0]["brokerage_order_id"]


def trading_context(app: FastAPI) -> TradingContext:
    found: TradingContext = app.state.runtime.get(TradingContext)
    return found


async def test_a_second_delivery_within_the_send_window_waits_for_its_end_and_no_longer(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    broker: tuple[RunningStub, snaptrade_stub.SnapTradeState],
) -> None:
    """A trade's job delivered again while an earlier worker may still be sending the order
    (within `Settings.trade_send_window_seconds` of ``submitted_at``) neither sends nor asks:
    `StillSending`, to be retried as the window closes (what is left of it); after the window
    the broker is asked, and an order it never got fails the trade."""
    _, state = broker
    account_id = await link_snaptrade(client, alice, state)
    response = await client.post(  # no worker: the trade stays pending, its job unsent
        f"{V1}/trades/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "1"},
        headers=alice.headers,
    )
    assert response.status_code == 202, response.text
    trade_id = uuid.UUID(response.json()["tradeId"])
    ctx = app.state.runtime.get(TradingContext)
    window = ctx.send_window.total_seconds()
    assert window == 30  # the default

    async def submitted(ago: float) -> None:
        async with ctx.sessions() as session:
            trade = await session.get(Trade, trade_id)
            assert trade is not None
            trade.submitted_at = utcnow() - timedelta(seconds=ago)
            await session.commit()

    await submitted(ago=10)
    async with ctx.sessions() as session:
        with pytest.raises(orders.StillSending) as still:
            await orders.submit(session, ctx, trade_id)
    assert still.value.retry_after is not None
    assert window - 10 - 2 < still.value.retry_after <= window - 10
    assert placed_orders(state, str(trade_id)) == []

    await submitted(ago=window + 1)
    async with ctx.sessions() as session:
        assert await orders.submit(session, ctx, trade_id) == "failed"
        await session.commit()
    assert placed_orders(state, str(trade_id)) == []
