"""Preview-then-place end to end through SnapTrade's stub, with a real worker: the preview is
SnapTrade's order impact, executing it places that checked trade (``POST /trade/{tradeId}``)
exactly once, even when the answer to the placement is lost (found with ``recentOrders``, or,
at a brokerage that does not list orders, left ``unknown``: never sent again, never taken for
``rejected``), and a checked trade SnapTrade has expired ends the trade ``rejected``. Every
exchange with the stub is checked against SnapTrade's spec."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import Account
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.contract import Contract
from tests.stubs.server import RunningStub, run_stub
from tests.stubs.snaptrade.state import ImpactState
from tests.trades.test_trades_snaptrade import FUNDS, link_snaptrade

V1 = "/api/v1"
Broker = tuple[RunningStub, snaptrade_stub.SnapTradeState, ImpactState]


@pytest.fixture(scope="module")
def broker_app() -> Starlette:
    return snaptrade_stub.create_app()


@pytest.fixture(scope="module")
def broker(broker_app: Starlette) -> Iterator[Broker]:
    with run_stub(broker_app) as running:
        yield running, broker_app.state.snaptrade, broker_app.state.snaptrade.impact


@pytest.fixture(autouse=True)
def spec_checked(broker_app: Starlette, broker: Broker) -> Iterator[None]:
    contract: Contract = broker_app.state.contract
    contract.clear()
    yield
    contract.assert_clean()


@pytest.fixture
def settings_overrides(broker: Broker) -> dict[str, Any]:
    stub, _, impact = broker
    stub.control.reset()
    impact.trades.clear()
    impact.clock = lambda: datetime.now(UTC)
    return {
        "snaptrade_client_id": snaptrade_stub.CLIENT_ID,
        "snaptrade_consumer_key": snaptrade_stub.CONSUMER_KEY,
        "snaptrade_base_url": stub.url,
        "vendor_retry_attempts": 2,
    }


async def preview_and_execute(
    client: httpx.AsyncClient,
    who: Account,
    state: snaptrade_stub.SnapTradeState,
    before_execute: Callable[[], object] = lambda: None,
    *,
    lists_orders: bool = True,
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Link, preview a buy of 2 AAPL, run ``before_execute``, execute the preview and wait for
    the trade to leave ``pending``: (the preview, the trade, the account's SnapTrade id)."""
    account_id = await link_snaptrade(client, who, state, lists_orders=lists_orders)
    body = {"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"}
    previewed = await client.post(f"{V1}/trades/preview", json=body, headers=who.headers)
    assert previewed.status_code == 201, previewed.text
    preview = previewed.json()
    before_execute()
    executed = await client.post(
        f"{V1}/trades/execute", json={"previewId": preview["previewId"]}, headers=who.headers
    )
    assert executed.status_code in (201, 202), executed.text
    trade_id = executed.json()["tradeId"]
    for _ in range(150):
        trade = (await client.get(f"{V1}/trades/{trade_id}", headers=who.headers)).json()
        if trade["status"] != "pending":
            break
        await asyncio.sleep(0.1)
    (at_broker,) = state.user_accounts(who.user_id)
    return preview, trade, at_broker.id


def orders_of(state: snaptrade_stub.SnapTradeState, account_id: str) -> list[dict[str, Any]]:
    """The orders placed in the stub's account (the seeded historical one left out)."""
    return state.accounts[account_id].orders[1:]


def trade_paths(stub: RunningStub) -> list[str]:
    return [seen.path for seen in stub.control.requests if seen.path.startswith("/trade")]


@pytest.mark.usefixtures("worker")
async def test_the_preview_is_snaptrades_impact_and_execute_places_that_checked_trade(
    client: httpx.AsyncClient, alice: Account, broker: Broker
) -> None:
    stub, state, impact = broker
    preview, trade, account_id = await preview_and_execute(client, alice, state)
    assert preview["estimatedPrice"] == "123.45"  # the stub's AAPL quote
    assert preview["estimatedValue"] == "246.90"
    assert preview["commission"] == "0.00"
    assert Decimal(preview["buyingPowerAfter"]) == FUNDS - Decimal("246.90")  # the funded cash
    assert trade["status"] == "filled"
    (checked,) = impact.placed()
    assert trade_paths(stub) == ["/trade/impact", f"/trade/{checked.id}"]
    assert checked.account_id == account_id
    assert len(orders_of(state, account_id)) == 1
    assert trade["providerOrderId"] == orders_of(state, account_id)[0]["brokerage_order_id"]


@pytest.mark.usefixtures("worker")
async def test_a_lost_answer_to_the_checked_trade_never_places_it_twice(
    client: httpx.AsyncClient, alice: Account, broker: Broker
) -> None:
    stub, state, impact = broker
    # From execute on, every placement is recorded and then answered with a 500.
    _, trade, account_id = await preview_and_execute(
        client, alice, state, lambda: stub.control.set("lost_response")
    )
    assert trade["status"] == "filled"
    (checked,) = impact.placed()
    assert len(orders_of(state, account_id)) == 1
    assert trade["providerOrderId"] == orders_of(state, account_id)[0]["brokerage_order_id"]
    assert trade_paths(stub).count(f"/trade/{checked.id}") == 1
    assert "/trade/place" not in trade_paths(stub)
    events = await client.get(f"{V1}/trades/{trade['tradeId']}/events", headers=alice.headers)
    assert [(e["status"], e["detail"].get("source")) for e in events.json()["events"]] == [
        ("pending", "api"),
        ("filled", "recovered"),  # found at the broker by the retry, not placed again
    ]


@pytest.mark.usefixtures("worker")
async def test_a_lost_answer_where_orders_cannot_be_listed_is_unknown_not_rejected(
    client: httpx.AsyncClient, alice: Account, broker: Broker
) -> None:
    stub, state, impact = broker
    # A brokerage whose orders SnapTrade cannot list (recentOrders answers 501): the checked
    # trade is placed, its answer lost, and nothing can confirm it. Sending it again would be
    # refused ("already placed") and read as a rejection of an order that exists.
    _, trade, account_id = await preview_and_execute(
        client, alice, state, lambda: stub.control.set("lost_response"), lists_orders=False
    )
    assert trade["status"] == "unknown", trade
    assert "cannot confirm" in trade["reason"]
    (checked,) = impact.placed()
    assert len(orders_of(state, account_id)) == 1  # the order exists at the broker
    assert trade_paths(stub).count(f"/trade/{checked.id}") == 1  # and was sent once
    assert "/trade/place" not in trade_paths(stub)
    events = await client.get(f"{V1}/trades/{trade['tradeId']}/events", headers=alice.headers)
    assert [e["status"] for e in events.json()["events"]] == ["pending", "unknown"]

    # The user settles it with the order the brokerage shows: read back, not placed again.
    order_id = orders_of(state, account_id)[0]["brokerage_order_id"]
    stub.control.set("success")
    settled = await client.post(
        f"{V1}/trades/{trade['tradeId']}/resolve",
        json={"placed": True, "providerOrderId": order_id},
        headers=alice.headers,
    )
    assert settled.status_code == 200, settled.text
    assert settled.json()["status"] == "filled"
    assert settled.json()["providerOrderId"] == order_id
    assert trade_paths(stub).count(f"/trade/{checked.id}") == 1


@pytest.mark.usefixtures("worker")
async def test_a_checked_trade_snaptrade_expired_ends_the_trade_rejected(
    client: httpx.AsyncClient, alice: Account, broker: Broker
) -> None:
    _, state, impact = broker
    # SnapTrade's clock runs past the checked trade's five minutes; Flint's has not yet.
    _, trade, account_id = await preview_and_execute(
        client,
        alice,
        state,
        lambda: setattr(impact, "clock", lambda: datetime.now(UTC) + timedelta(minutes=6)),
    )
    assert trade["status"] == "rejected"
    assert "expired" in trade["reason"]
    assert orders_of(state, account_id) == []
    assert Decimal(str(trade["filledQuantity"])) == 0
