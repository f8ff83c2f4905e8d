"""Unlinking a SnapTrade account through the API: the connection is deleted at SnapTrade
(``DELETE /connection/{id}``); when SnapTrade cannot be reached nothing changes (503), so the
user can try again instead of leaving a live connection Flint can no longer revoke."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import Account
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.contract import Contract
from tests.stubs.server import RunningStub, run_stub

V1 = "/api/v1"


@pytest.fixture(scope="module")
def broker_app() -> Starlette:
    return snaptrade_stub.create_app()


@pytest.fixture(scope="module")
def broker(broker_app: Starlette) -> Iterator[RunningStub]:
    with run_stub(broker_app) as running:
        yield running


@pytest.fixture(autouse=True)
def spec_checked(broker_app: Starlette, broker: RunningStub) -> Iterator[None]:
    contract: Contract = broker_app.state.contract
    contract.clear()
    broker.control.reset()
    yield
    contract.assert_clean()


@pytest.fixture
def settings_overrides(broker: RunningStub) -> dict[str, Any]:
    return {
        "snaptrade_client_id": snaptrade_stub.CLIENT_ID,
        "snaptrade_consumer_key": snaptrade_stub.CONSUMER_KEY,
        "snaptrade_base_url": broker.url,
        "vendor_retry_attempts": 2,
    }


async def link_snaptrade(
    client: httpx.AsyncClient, who: Account, state: snaptrade_stub.SnapTradeState
) -> tuple[str, httpx.Response]:
    """A connection made in SnapTrade's portal and linked: its id, and the link's answer."""
    portal = await client.post(
        f"{V1}/accounts/connect", json={"provider": "snaptrade"}, headers=who.headers
    )
    assert portal.status_code == 200, portal.text
    connection = state.connect(who.user_id)
    linked = await client.post(
        f"{V1}/accounts/link",
        json={"provider": "snaptrade", "authCode": connection},
        headers=who.headers,
    )
    assert linked.status_code == 201, linked.text
    return connection, linked


async def test_unlinking_deletes_the_connection_at_snaptrade_or_changes_nothing(
    client: httpx.AsyncClient, alice: Account, broker: RunningStub, broker_app: Starlette
) -> None:
    state: snaptrade_stub.SnapTradeState = broker_app.state.snaptrade
    connection, linked = await link_snaptrade(client, alice, state)
    account_id = linked.json()["accountId"]

    broker.control.set("500")
    refused = await client.delete(f"{V1}/accounts/{account_id}", headers=alice.headers)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert connection in state.connections  # still alive at SnapTrade, and still linked here
    listed = await client.get(f"{V1}/accounts/{account_id}", headers=alice.headers)
    assert listed.status_code == 200

    broker.control.reset()
    done = await client.delete(f"{V1}/accounts/{account_id}", headers=alice.headers)
    assert done.status_code == 204, done.text
    assert connection not in state.connections
    deletes = [s.path for s in broker.control.requests if s.path.startswith("/connection/")]
    assert deletes == [f"/connection/{connection}"]


async def test_closing_the_account_deletes_the_connection_and_the_user_at_snaptrade(
    client: httpx.AsyncClient, alice: Account, broker: RunningStub, broker_app: Starlette
) -> None:
    state: snaptrade_stub.SnapTradeState = broker_app.state.snaptrade
    connection, _ = await link_snaptrade(client, alice, state)
    registered = alice.user_id  # Flint registers its user id at SnapTrade
    assert registered in state.users
    body = {"email": alice.email, "password": alice.password}

    broker.control.set("500")
    refused = await client.request("DELETE", f"{V1}/users/me", json=body, headers=alice.headers)
    assert "snaptrade is unavailable" in refused.json()["detail"], refused.text
    assert refused.status_code == 503
    assert connection in state.connections
    assert registered in state.users
    assert (await client.get(f"{V1}/accounts", headers=alice.headers)).json()["accounts"]

    broker.control.reset()
    closed = await client.request("DELETE", f"{V1}/users/me", json=body, headers=alice.headers)
    assert closed.status_code == 204, closed.text
    assert connection not in state.connections
    assert registered not in state.users
    assert registered in state.deleted_users
