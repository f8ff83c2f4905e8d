"""Fixtures for SnapTradeProvider tests against the stub; a test module imports them by name
(with ``tests.stubs.fixtures``' ``stub``, ``control`` and ``closing``).

``spec_checked`` (autouse once imported) fails a test whose requests or answers broke
SnapTrade's spec (see :mod:`tests.stubs.contract`).
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from flint.brokerage.snaptrade import SnapTradeProvider
from flint.brokerage.types import Identity, OrderAction, OrderRequest, ProviderAccount
from flint.kit.http import VendorPolicy
from tests.stubs.contract import Contract
from tests.stubs.fixtures import Closing
from tests.stubs.server import RunningStub, StubControl
from tests.stubs.snaptrade import CLIENT_ID, CONSUMER_KEY, SnapTradeState, create_app

FAST = VendorPolicy(
    connect_timeout=1.0,
    read_timeout=0.5,
    attempts=2,
    backoff_initial=0.01,
    backoff_max=0.02,
    breaker_threshold=100,
)
PLACE = "/trade/place"
NO_CA = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
"""The stub speaks plain HTTP: clients get a context that verifies and trusts nothing, instead
of loading the CA bundle each time (a tenth of a second per client)."""

Build = Callable[..., SnapTradeProvider]
Connect = Callable[..., Awaitable[str]]


@dataclass
class Linked:
    identity: Identity
    credentials: dict[str, str]
    account: ProviderAccount


@pytest.fixture(scope="module")
def served_app() -> Starlette:
    return create_app()


@pytest.fixture
def state(served_app: Starlette, control: StubControl) -> SnapTradeState:
    """The stub's state, with its switches back at their defaults."""
    found: SnapTradeState = served_app.state.snaptrade
    found.realtime, found.recent_orders = False, True
    return found


@pytest.fixture(autouse=True)
def spec_checked(served_app: Starlette) -> Iterator[Contract]:
    contract: Contract = served_app.state.contract
    contract.clear()
    yield contract
    contract.assert_clean()


@pytest.fixture
def build(stub: RunningStub, control: StubControl, closing: Closing) -> Build:
    def make(
        *,
        client_id: str = CLIENT_ID,
        consumer_key: str = CONSUMER_KEY,
        base_url: str | None = None,
        **policy: Any,
    ) -> SnapTradeProvider:
        provider = SnapTradeProvider(
            client_id,
            consumer_key,
            base_url=base_url or stub.url,
            policy=replace(FAST, **policy),
            transport=httpx.AsyncHTTPTransport(verify=NO_CA),
        )
        return closing(provider)

    return make


@pytest.fixture
def provider(build: Build) -> SnapTradeProvider:
    return build()


@pytest.fixture
def connect(stub: RunningStub) -> Connect:
    """Connect a brokerage for a user, as the portal would; returns the authorization id."""

    async def make(
        identity: Identity,
        broker: str = "ROBINHOOD",
        kind: str = "trade",
        lists_orders: bool = True,
    ) -> str:
        async with httpx.AsyncClient(base_url=stub.url, verify=NO_CA) as client:
            answer = await client.post(
                "/_connect",
                json={
                    "userId": identity["userId"],
                    "broker": broker,
                    "type": kind,
                    "listsOrders": lists_orders,
                },
            )
        answer.raise_for_status()
        return str(answer.json()["authorizationId"])

    return make


@pytest.fixture
async def linked(
    provider: SnapTradeProvider, connect: Connect, control: StubControl, state: SnapTradeState
) -> Linked:
    identity = await provider.register(f"flint-{uuid.uuid4()}")
    link = await provider.link(identity, await connect(identity))
    control.reset()
    return Linked(identity, link.credentials, link.accounts[0])


def market(
    linked: Linked, quantity: str = "3", symbol: str = "AAPL", **fields: Any
) -> OrderRequest:
    return OrderRequest(
        account_id=fields.pop("account_id", linked.account.id),
        client_order_id=fields.pop("client_order_id", str(uuid.uuid4())),
        symbol=symbol,
        action=fields.pop("action", OrderAction.BUY),
        quantity=Decimal(quantity),
        **fields,
    )


def posts_to_place(control: StubControl) -> int:
    return sum(seen.path == PLACE for seen in control.requests)


__all__ = [
    "FAST",
    "NO_CA",
    "PLACE",
    "Build",
    "Connect",
    "Linked",
    "build",
    "connect",
    "linked",
    "market",
    "posts_to_place",
    "provider",
    "served_app",
    "spec_checked",
    "state",
]
