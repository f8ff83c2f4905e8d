"""Mixpanel: product events leave from the worker after the commit, with the user id as the
only identity, through the official library to a local ingestion endpoint; a failing endpoint
is retried, then the event is dropped, and the user's action never fails. Off without a
token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from flint.analytics import safe_properties
from tests.conftest import Account
from tests.notifications.conftest import eventually
from tests.stubs.mixpanel_api import TOKEN, MixpanelControl, mixpanel_app
from tests.stubs.server import RunningStub, run_stub
from tests.trades.conftest import link_sandbox, worker

__all__ = ["worker"]

pytestmark = [pytest.mark.waits, pytest.mark.timeout(90)]


@pytest.fixture
def stub() -> Iterator[RunningStub]:
    with run_stub(mixpanel_app()) as running:
        yield running


@pytest.fixture
def settings_overrides(stub: RunningStub) -> dict[str, Any]:
    return {
        "mixpanel_token": TOKEN,
        "mixpanel_events_url": f"{stub.url}/track",
        "mixpanel_retry_seconds": 0.2,
        "mixpanel_send_attempts": 3,
    }


def control(stub: RunningStub) -> MixpanelControl:
    assert isinstance(stub.control, MixpanelControl)
    return stub.control


async def received(stub: RunningStub, count: int) -> list[dict[str, Any]]:
    await eventually(lambda: len(control(stub).events) >= count, f"{count} events")
    await asyncio.sleep(0.3)  # and nothing more
    return list(control(stub).events)


@pytest.mark.usefixtures("worker")
async def test_signup_login_and_a_link_arrive_under_the_user_id_without_an_email(
    client: httpx.AsyncClient, alice: Account, stub: RunningStub
) -> None:
    await link_sandbox(client, alice)

    events = await received(stub, 3)

    assert sorted(e["event"] for e in events) == ["account_linked", "login", "signup"]
    assert {e["properties"]["distinct_id"] for e in events} == {alice.user_id}
    by_name = {e["event"]: e["properties"] for e in events}
    assert by_name["login"]["method"] == "password"
    assert by_name["account_linked"]["provider"] == "sandbox"
    assert by_name["account_linked"]["accounts"] >= 1
    assert len({e["properties"]["$insert_id"] for e in events}) == 3
    assert alice.email not in json.dumps(events)


@pytest.mark.usefixtures("worker")
async def test_a_failing_endpoint_is_retried_until_the_event_arrives(
    client: httpx.AsyncClient, stub: RunningStub
) -> None:
    control(stub).set("503", times=2)

    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "retry@example.com", "password": "Tr0ub4dor&3-horse-staple"},
    )

    assert response.status_code == 201
    [event] = await received(stub, 1)
    assert event["event"] == "signup"
    assert control(stub).count() == 3


@pytest.mark.usefixtures("worker")
async def test_an_endpoint_that_keeps_failing_drops_the_event_and_the_action_stands(
    client: httpx.AsyncClient, stub: RunningStub
) -> None:
    control(stub).set("500")

    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "dropped@example.com", "password": "Tr0ub4dor&3-horse-staple"},
    )

    assert response.status_code == 201
    await eventually(lambda: control(stub).count() >= 3, "three tries")
    await asyncio.sleep(1.5)  # a fourth try would come by now
    assert control(stub).count() == 3
    assert control(stub).events == []
    login = await client.post(
        "/api/v1/auth/login",
        json={"email": "dropped@example.com", "password": "Tr0ub4dor&3-horse-staple"},
    )
    assert login.status_code == 200, login.text


@pytest.mark.parametrize("settings_overrides", [{}])
@pytest.mark.usefixtures("worker")
async def test_without_a_token_nothing_is_sent(
    client: httpx.AsyncClient, alice: Account, stub: RunningStub
) -> None:
    await asyncio.sleep(1)
    assert control(stub).count() == 0


def test_properties_outside_the_allow_list_or_shape_never_leave() -> None:
    kept = safe_properties(
        {
            "email": "alice@example.com",
            "amount": "1250.00",
            "symbols": "aapl,msft",
            "kind": "AAPL",  # an allowed name, but a symbol's shape
            "provider": "alice@example.com",
            "accounts": 125000,  # a count, or an amount in disguise
            "plan": "premium",
            "accounts_": 1,
            "side": "buy",
        }
    )

    assert kept == {"plan": "premium", "side": "buy"}


@pytest.mark.usefixtures("worker")
async def test_a_filled_trade_is_counted_without_its_symbol_or_amounts(
    client: httpx.AsyncClient, alice: Account, stub: RunningStub
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    bought = await client.post(
        "/api/v1/trades/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"},
        headers=alice.headers,
    )
    assert bought.json()["status"] == "filled", bought.text

    events = await received(stub, 4)

    [trade] = [e["properties"] for e in events if e["event"] == "trade_executed"]
    assert trade["distinct_id"] == alice.user_id
    assert (trade["side"], trade["order_type"], trade["status"]) == ("buy", "market", "filled")
    sent = json.dumps(trade)
    assert "AAPL" not in sent
    assert str(bought.json()["averagePrice"]) not in sent
