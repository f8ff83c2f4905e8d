"""SnapTradeProvider against the local SnapTrade stub (signatures checked, orders kept)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from flint.brokerage.snaptrade import SnapTradeProvider, signature
from flint.brokerage.snaptrade import client as snaptrade
from flint.brokerage.types import (
    AccountGone,
    AccountProviderError,
    AccountType,
    Balances,
    Holding,
    Identity,
    LinkRefused,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    ProviderAccount,
    TimeInForce,
)
from flint.kit.http import VendorPolicy
from flint.kit.vendor_errors import ProviderError, ProviderGarbage, ProviderUnavailable
from tests.stubs import snaptrade as stub_module
from tests.stubs.fixtures import Closing, closing, control, stub
from tests.stubs.server import RunningStub, StubControl

__all__ = ["closing", "control", "stub"]

FAST = VendorPolicy(
    connect_timeout=1.0,
    read_timeout=0.5,
    attempts=2,
    backoff_initial=0.01,
    backoff_max=0.02,
    breaker_threshold=100,
)
PLACE = "/api/v1/trade/place"
SAMPLE_ORDER_ID = "66a033fa-da74-4fcf-b527-feefdec9257e"
NO_CA = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
"""The stub speaks plain HTTP: clients get a context that verifies and trusts nothing, instead
of loading the CA bundle each time (a tenth of a second per client)."""


@pytest.fixture(scope="module")
def served_app() -> Starlette:
    return stub_module.create_app()


Build = Callable[..., SnapTradeProvider]


@pytest.fixture
def build(stub: RunningStub, control: StubControl, closing: Closing) -> Build:
    def make(
        *,
        client_id: str = stub_module.CLIENT_ID,
        consumer_key: str = stub_module.CONSUMER_KEY,
        **policy: Any,
    ) -> SnapTradeProvider:
        provider = SnapTradeProvider(
            client_id,
            consumer_key,
            base_url=f"{stub.url}/api/v1",
            policy=replace(FAST, **policy),
            transport=httpx.AsyncHTTPTransport(verify=NO_CA),
        )
        return closing(provider)

    return make


@pytest.fixture
def provider(build: Build) -> SnapTradeProvider:
    return build()


@dataclass
class Linked:
    identity: Identity
    credentials: dict[str, str]
    account: ProviderAccount


Connect = Callable[..., Awaitable[str]]


@pytest.fixture
def connect(stub: RunningStub) -> Connect:
    """Connect a brokerage for a user, as the portal would; returns the authorization id."""

    async def make(identity: Identity, broker: str = "ROBINHOOD", kind: str = "trade") -> str:
        async with httpx.AsyncClient(base_url=stub.url, verify=NO_CA) as client:
            answer = await client.post(
                "/_connect", json={"userId": identity["userId"], "broker": broker, "type": kind}
            )
        answer.raise_for_status()
        return str(answer.json()["authorizationId"])

    return make


@pytest.fixture
async def linked(provider: SnapTradeProvider, connect: Connect, control: StubControl) -> Linked:
    identity = await provider.register(f"flint-{uuid.uuid4()}")
    link = await provider.link(identity, await connect(identity))
    control.reset()
    return Linked(identity, link.credentials, link.accounts[0])


def market(
    linked: Linked, quantity: str = "3", symbol: str = "AAPL", **fields: Any
) -> OrderRequest:
    return OrderRequest(
        account_id=linked.account.id,
        client_order_id=fields.pop("client_order_id", str(uuid.uuid4())),
        symbol=symbol,
        action=fields.pop("action", OrderAction.BUY),
        quantity=Decimal(quantity),
        **fields,
    )


def posts_to_place(control: StubControl) -> int:
    return sum(seen.path == PLACE for seen in control.requests)


# --- signing ----------------------------------------------------------------------------------


def test_signature_is_the_hmac_of_snaptrades_canonical_json() -> None:
    # The canonical string SnapTrade's "Request Signatures" page gives for this request.
    canonical = (
        '{"content":{"userId":"new_user_123"},"path":"/api/v1/snapTrade/registerUser",'
        '"query":"clientId=PASSIVTEST&timestamp=1635790389"}'
    )
    expected = base64.b64encode(
        hmac.new(b"KEY", canonical.encode(), hashlib.sha256).digest()
    ).decode()
    body = b'{"userId": "new_user_123"}'  # whitespace in the body does not change the signature
    query = "clientId=PASSIVTEST&timestamp=1635790389"
    assert signature("KEY", "/api/v1/snapTrade/registerUser", query, body) == expected


def test_an_empty_body_signs_as_null_content() -> None:
    canonical = '{"content":null,"path":"/api/v1/accounts","query":"clientId=C&timestamp=1"}'
    expected = base64.b64encode(hmac.new(b"K", canonical.encode(), hashlib.sha256).digest())
    for body in (None, b"", b"{}"):
        assert signature("K", "/api/v1/accounts", "clientId=C&timestamp=1", body) == (
            expected.decode()
        )


async def test_requests_carry_client_id_fresh_timestamp_and_user_in_the_query(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    await provider.accounts(linked.identity, linked.credentials)
    assert control.requests
    for seen in control.requests:
        assert seen.params["clientId"] == stub_module.CLIENT_ID
        assert abs(int(seen.params["timestamp"]) - time.time()) < 60
        assert seen.params["userId"] == linked.identity["userId"]
        assert seen.headers["signature"]


async def test_a_wrong_consumer_key_is_a_configuration_error_not_a_gone_link(
    build: Build, control: StubControl
) -> None:
    impostor = build(consumer_key="not-the-key")
    with pytest.raises(ProviderError) as caught:
        await impostor.register(f"flint-{uuid.uuid4()}")
    assert type(caught.value) is ProviderError
    assert "Unable to verify signature sent" in caught.value.reason
    assert "consumer key" in caught.value.reason
    assert "not-the-key" not in str(caught.value)
    assert control.count() == 1  # a 401 is not retried


async def test_a_wrong_consumer_key_on_a_linked_account_keeps_the_link(
    build: Build, linked: Linked
) -> None:
    with pytest.raises(ProviderError) as caught:
        await build(consumer_key="not-the-key").accounts(linked.identity, linked.credentials)
    assert not isinstance(caught.value, AccountGone)


async def test_a_timestamp_older_than_five_minutes_is_refused(
    provider: SnapTradeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snaptrade, "_unix_time", lambda: time.time() - 301)
    with pytest.raises(ProviderError) as caught:
        await provider.register(f"flint-{uuid.uuid4()}")
    assert "Unable to verify signature sent" in caught.value.reason


async def test_the_stub_refuses_an_unsigned_request(stub: RunningStub) -> None:
    params = {"clientId": stub_module.CLIENT_ID, "timestamp": str(int(time.time()))}
    async with httpx.AsyncClient(base_url=stub.url, verify=NO_CA) as client:
        answer = await client.post(
            "/api/v1/snapTrade/registerUser", params=params, json={"userId": "x"}
        )
    assert answer.status_code == 401
    assert answer.json() == {
        "detail": "Unable to verify signature sent",
        "status_code": 401,
        "code": "1076",
    }


# --- users and links ----------------------------------------------------------------------------


async def test_register_connect_through_the_portal_and_link(
    provider: SnapTradeProvider, control: StubControl
) -> None:
    identity = await provider.register("flint-user-42")
    assert identity["userId"] == "flint-user-42"
    assert set(identity) == {"userId", "userSecret"}

    url = await provider.connect_url(identity, redirect_url="https://flint.example/linked")
    async with httpx.AsyncClient(verify=NO_CA) as browser:
        portal = await browser.get(url)
    assert portal.status_code == 302
    back = urlsplit(portal.headers["location"])
    assert back.netloc == "flint.example"
    assert back.path == "/linked"
    returned = parse_qs(back.query)
    assert returned["status"] == ["SUCCESS"]

    link = await provider.link(identity, returned["authorizationId"][0])
    assert link.credentials == {"authorizationId": returned["authorizationId"][0]}
    [account] = link.accounts
    assert account == ProviderAccount(
        id=account.id,
        name="Robinhood Individual",
        type=AccountType.BROKERAGE,
        currency="USD",
        institution="Robinhood",
        mask="8443",
        can_trade=True,
    )
    assert uuid.UUID(account.id)  # a fresh id, not the sample's
    assert account.id != "917c8734-8470-4a3e-a18f-57c3f2ee6631"


async def test_registering_the_same_user_twice_is_refused(provider: SnapTradeProvider) -> None:
    key = f"flint-{uuid.uuid4()}"
    await provider.register(key)
    with pytest.raises(AccountProviderError) as caught:
        await provider.register(key)
    assert "already exist" in caught.value.reason


async def test_link_refuses_a_connection_snaptrade_does_not_know(
    provider: SnapTradeProvider, control: StubControl
) -> None:
    identity = await provider.register(f"flint-{uuid.uuid4()}")
    with pytest.raises(LinkRefused) as caught:
        await provider.link(identity, str(uuid.uuid4()))
    assert caught.value.reason == "The requested resource does not exist."
    control.reset()
    with pytest.raises(LinkRefused):
        await provider.link(identity, "../accounts")
    assert control.count() == 0


async def test_link_refuses_another_users_connection(
    provider: SnapTradeProvider, connect: Connect
) -> None:
    alice = await provider.register(f"flint-{uuid.uuid4()}")
    bob = await provider.register(f"flint-{uuid.uuid4()}")
    with pytest.raises(LinkRefused):
        await provider.link(bob, await connect(alice))


async def test_crypto_and_read_only_connections(
    provider: SnapTradeProvider, connect: Connect
) -> None:
    identity = await provider.register(f"flint-{uuid.uuid4()}")
    crypto = await provider.link(identity, await connect(identity, "COINBASE"))
    assert crypto.accounts[0] == ProviderAccount(
        id=crypto.accounts[0].id,
        name="Coinbase",
        type=AccountType.CRYPTO,
        currency="USD",
        institution="Coinbase",
        mask="4217",
        can_trade=True,
    )
    read_only = await provider.link(identity, await connect(identity, kind="read"))
    assert read_only.accounts[0].can_trade is False
    with pytest.raises(OrderRejected) as caught:
        await provider.place_order(
            identity,
            read_only.credentials,
            OrderRequest(read_only.accounts[0].id, "c-1", "AAPL", OrderAction.BUY, Decimal(1)),
        )
    assert caught.value.reason == "User does not have permission to access this resource"


async def test_unlink_removes_the_connection_and_is_idempotent(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    await provider.unlink(linked.identity, linked.credentials)
    with pytest.raises(AccountGone):
        await provider.accounts(linked.identity, linked.credentials)
    with pytest.raises(AccountGone):
        await provider.balances(linked.identity, linked.credentials, linked.account.id)
    await provider.unlink(linked.identity, linked.credentials)
    deletes = [s for s in control.requests if s.path.startswith("/api/v1/authorizations/")]
    assert len(deletes) == 3  # delete, the accounts' lookup (404), delete again (404: gone)
    assert await provider.unlink(linked.identity, {}) is None


# --- data ---------------------------------------------------------------------------------------


async def test_balances_are_the_samples_exact_decimals(
    provider: SnapTradeProvider, linked: Linked
) -> None:
    balances = await provider.balances(linked.identity, linked.credentials, linked.account.id)
    assert balances == Balances(
        currency="USD",
        current=Decimal("15363.23"),
        available=Decimal("300.71"),
        cash=Decimal("300.71"),
        buying_power=Decimal("410.71"),
    )


async def test_holdings_come_from_positions_all_with_total_cost(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    holdings = await provider.holdings(linked.identity, linked.credentials, linked.account.id)
    assert holdings == [
        Holding(
            symbol="AAPL",
            quantity=Decimal("10.5"),
            price=Decimal("123.45"),
            cost_basis=Decimal("1241.100"),  # 118.2 a unit
            currency="USD",
            name="Apple Inc.",
        )
    ]
    assert [s.path for s in control.requests] == [
        f"/api/v1/accounts/{linked.account.id}/positions/all"
    ]


async def test_holdings_fall_back_to_the_deprecated_positions(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    control.set("no_positions_all")
    holdings = await provider.holdings(linked.identity, linked.credentials, linked.account.id)
    assert holdings == [
        Holding(
            symbol="VAB.TO",
            quantity=Decimal("40"),
            price=Decimal("113.15"),
            cost_basis=Decimal("4333.4120"),  # 108.3353 a unit
            currency="USD",
            name="VANGUARD CDN AGGREGATE BOND INDEX ETF",
        )
    ]
    assert [s.path.rsplit("/", 2)[-2:] for s in control.requests] == [
        ["positions", "all"],
        [linked.account.id, "positions"],
    ]


EXPECTED_ACTIVITY = [
    (date(2024, 8, 20), Decimal("0.07"), "interest", None),
    (date(2024, 8, 10), Decimal("-50.00"), "withdrawal", None),  # sent unsigned: made negative
    (date(2024, 8, 5), Decimal("123.45"), "sell", "AAPL"),
    (date(2024, 8, 2), Decimal("-4.99"), "fee", None),
    (date(2024, 8, 1), Decimal("1.44"), "dividend", "VAB.TO"),
    (date(2024, 7, 26), Decimal("-226.30"), "buy", "VAB.TO"),
    (date(2024, 7, 25), Decimal("1000.00"), "deposit", None),
]


async def test_transactions_are_signed_from_the_holders_side_newest_first(
    provider: SnapTradeProvider, linked: Linked
) -> None:
    txns = await provider.transactions(linked.identity, linked.credentials, linked.account.id)
    assert [(t.date, t.amount, t.type, t.symbol) for t in txns] == EXPECTED_ACTIVITY
    buy = txns[-2]
    assert (buy.quantity, buy.price, buy.description) == (
        Decimal("2"),
        Decimal("113.15"),
        "Bought 2 VAB.TO",
    )
    assert txns[-1].quantity is None
    assert {t.currency for t in txns} == {"USD"}
    assert len({t.id for t in txns}) == 7


async def test_transactions_page_through_the_activities(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    provider.activities_page_size = 3
    txns = await provider.transactions(linked.identity, linked.credentials, linked.account.id)
    assert [(t.date, t.amount, t.type, t.symbol) for t in txns] == EXPECTED_ACTIVITY
    assert [s.params["offset"] for s in control.requests] == ["0", "3", "6"]


async def test_transactions_since_a_date(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    txns = await provider.transactions(
        linked.identity, linked.credentials, linked.account.id, since=date(2024, 8, 2)
    )
    assert [t.date for t in txns] == [date(2024, 8, d) for d in (20, 10, 5, 2)]
    assert control.count(startDate="2024-08-02") == 1


# --- orders -------------------------------------------------------------------------------------


async def test_a_market_order_fills_at_once(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    request = market(linked)
    order = await provider.place_order(linked.identity, linked.credentials, request)
    assert order.status is OrderStatus.FILLED
    assert (order.symbol, order.action, order.quantity) == ("AAPL", OrderAction.BUY, Decimal(3))
    assert (order.filled_quantity, order.average_price) == (Decimal(3), Decimal("123.45"))
    assert order.client_order_id == request.client_order_id
    assert order.raw_status == "EXECUTED"
    assert order.filled_at is not None
    assert posts_to_place(control) == 1
    again = await provider.get_order(
        linked.identity, linked.credentials, linked.account.id, order.provider_order_id
    )
    assert (again.status, again.filled_quantity) == (OrderStatus.FILLED, Decimal(3))


async def test_a_limit_order_waits_and_can_be_canceled(
    provider: SnapTradeProvider, linked: Linked
) -> None:
    request = market(
        linked,
        "2",
        "VAB.TO",
        order_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        limit_price=Decimal("100.05"),
    )
    placed = await provider.place_order(linked.identity, linked.credentials, request)
    assert (placed.status, placed.raw_status) == (OrderStatus.SUBMITTED, "PENDING")
    assert placed.filled_quantity == 0
    assert placed.average_price is None
    assert placed.extra == {"order_type": "Limit", "time_in_force": "GTC", "limit_price": "100.05"}

    args = (linked.identity, linked.credentials, linked.account.id, placed.provider_order_id)
    canceled = await provider.cancel_order(*args)
    assert (canceled.status, canceled.raw_status) == (OrderStatus.CANCELED, "CANCELED")
    # SnapTrade refuses to cancel it again; the order is returned as it stands.
    assert (await provider.cancel_order(*args)).status is OrderStatus.CANCELED


async def test_get_order_maps_the_sample_order(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    order = await provider.get_order(
        linked.identity, linked.credentials, linked.account.id, SAMPLE_ORDER_ID
    )
    assert (order.status, order.symbol, order.action) == (
        OrderStatus.FILLED,
        "VAB.TO",
        OrderAction.BUY,
    )
    assert (order.quantity, order.filled_quantity, order.average_price) == (
        Decimal(100),
        Decimal(100),
        Decimal("12.34"),
    )
    assert order.client_order_id is None
    assert control.count(state="all", days="30") == 1
    with pytest.raises(AccountProviderError):
        await provider.get_order(
            linked.identity, linked.credentials, linked.account.id, str(uuid.uuid4())
        )


@pytest.mark.parametrize("scenario", ["lost_response", "lost_response_timeout"])
async def test_after_a_lost_response_find_order_finds_the_one_order(
    build: Build, linked: Linked, control: StubControl, served_app: Starlette, scenario: str
) -> None:
    provider = build()
    request = market(linked)
    control.set(scenario, times=1, delay=1.0)
    with pytest.raises(ProviderUnavailable):
        await provider.place_order(linked.identity, linked.credentials, request)
    assert posts_to_place(control) == 1

    # A fresh process (no memory of the send) asks SnapTrade.
    found = await build().find_order(
        linked.identity, linked.credentials, linked.account.id, request.client_order_id
    )
    assert found is not None
    assert (found.status, found.client_order_id) == (OrderStatus.FILLED, request.client_order_id)
    placed = [
        o
        for o in served_app.state.snaptrade.orders_placed()
        if o["client_order_id"] == request.client_order_id
    ]
    assert [o["brokerage_order_id"] for o in placed] == [found.provider_order_id]

    # Placing it again from the same process returns that order instead of a second one.
    again = await provider.place_order(linked.identity, linked.credentials, request)
    assert again.provider_order_id == found.provider_order_id
    assert posts_to_place(control) == 1


async def test_find_order_misses_an_order_never_placed(
    provider: SnapTradeProvider, linked: Linked
) -> None:
    await provider.place_order(linked.identity, linked.credentials, market(linked, "1"))
    missing = await provider.find_order(
        linked.identity, linked.credentials, linked.account.id, str(uuid.uuid4())
    )
    assert missing is None


async def test_find_order_returns_the_oldest_of_repeated_client_ids(
    build: Build, linked: Linked
) -> None:
    client_id = str(uuid.uuid4())
    first = await build().place_order(
        linked.identity, linked.credentials, market(linked, "1", client_order_id=client_id)
    )
    second = await build().place_order(  # another process: SnapTrade takes the repeat
        linked.identity, linked.credentials, market(linked, "2", client_order_id=client_id)
    )
    assert first.provider_order_id != second.provider_order_id
    found = await build().find_order(
        linked.identity, linked.credentials, linked.account.id, client_id
    )
    assert found is not None
    assert found.provider_order_id == first.provider_order_id


async def test_a_flint_id_that_is_not_a_uuid_is_sent_as_one(
    provider: SnapTradeProvider, linked: Linked, served_app: Starlette
) -> None:
    request = market(linked, "1", client_order_id="trade-17")
    order = await provider.place_order(linked.identity, linked.credentials, request)
    sent = served_app.state.snaptrade.orders_placed()[-1]["client_order_id"]
    assert uuid.UUID(sent)
    found = await provider.find_order(
        linked.identity, linked.credentials, linked.account.id, "trade-17"
    )
    assert found is not None
    assert found.provider_order_id == order.provider_order_id
    assert found.client_order_id == "trade-17"


async def test_without_echoed_ids_find_order_matches_what_this_process_sent(
    build: Build, linked: Linked, control: StubControl
) -> None:
    provider = build()
    request = market(linked, "2")
    control.set("lost_response", times=1)
    with pytest.raises(ProviderUnavailable):
        await provider.place_order(linked.identity, linked.credentials, request)
    control.set("no_client_ids")
    args = (linked.identity, linked.credentials, linked.account.id, request.client_order_id)
    found = await provider.find_order(*args)
    assert found is not None
    assert (found.symbol, found.quantity) == ("AAPL", Decimal(2))
    with pytest.raises(ProviderError, match="does not say which order"):
        await build().find_order(*args)  # no memory of the send: no guessing


async def test_place_order_is_not_retried_on_a_500(
    provider: SnapTradeProvider, linked: Linked, control: StubControl, served_app: Starlette
) -> None:
    before = len(served_app.state.snaptrade.orders_placed())
    control.set("500")
    with pytest.raises(ProviderUnavailable):
        await provider.place_order(linked.identity, linked.credentials, market(linked))
    assert posts_to_place(control) == 1
    assert len(served_app.state.snaptrade.orders_placed()) == before


@pytest.mark.parametrize("scenario", ["500", "429"])
async def test_reads_are_retried(
    provider: SnapTradeProvider, linked: Linked, control: StubControl, scenario: str
) -> None:
    control.set(scenario, times=1)
    balances = await provider.balances(linked.identity, linked.credentials, linked.account.id)
    assert balances.current == Decimal("15363.23")
    assert control.count() == 3  # the account twice, then its balances


async def test_a_slow_snaptrade_is_unavailable_after_the_retries(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    control.set("slow", delay=1.0)
    with pytest.raises(ProviderUnavailable):
        await provider.accounts(linked.identity, linked.credentials)
    assert control.count() == 2


async def test_an_order_snaptrade_refuses_is_rejected_with_its_message(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    with pytest.raises(OrderRejected) as caught:
        await provider.place_order(linked.identity, linked.credentials, market(linked, "10"))
    assert caught.value.reason == (
        "Insufficient buying power to place this order (410.71 available)"
    )
    with pytest.raises(OrderRejected) as unknown:
        await provider.place_order(linked.identity, linked.credentials, market(linked, "1", "ZZZZ"))
    assert unknown.value.reason == "Symbol ZZZZ could not be found at this brokerage"
    control.set("insufficient_funds")
    with pytest.raises(OrderRejected, match="Insufficient buying power"):
        await provider.place_order(linked.identity, linked.credentials, market(linked, "1"))
    assert posts_to_place(control) == 3


async def test_orders_that_cannot_be_sent_exactly_are_refused_before_sending(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    too_precise = market(linked, "0.1000000000000000000001")
    with pytest.raises(ValueError, match="exactly"):
        await provider.place_order(linked.identity, linked.credentials, too_precise)
    limit_without_price = market(linked, "1", order_type=OrderType.LIMIT)
    with pytest.raises(ValueError, match="limit price"):
        await provider.place_order(linked.identity, linked.credentials, limit_without_price)
    assert control.count() == 0


@pytest.mark.parametrize("scenario", ["html", "truncated", "missing"])
async def test_garbage_is_refused(
    provider: SnapTradeProvider, linked: Linked, control: StubControl, scenario: str
) -> None:
    control.set(scenario)
    with pytest.raises(ProviderGarbage):
        await provider.accounts(linked.identity, linked.credentials)


async def test_garbage_orders_are_refused(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    control.set("missing")
    with pytest.raises(ProviderGarbage):
        await provider.get_order(
            linked.identity, linked.credentials, linked.account.id, SAMPLE_ORDER_ID
        )


CALLS: dict[str, Callable[[SnapTradeProvider, Linked], Awaitable[object]]] = {
    "accounts": lambda p, x: p.accounts(x.identity, x.credentials),
    "balances": lambda p, x: p.balances(x.identity, x.credentials, x.account.id),
    "holdings": lambda p, x: p.holdings(x.identity, x.credentials, x.account.id),
    "transactions": lambda p, x: p.transactions(x.identity, x.credentials, x.account.id),
    "place_order": lambda p, x: p.place_order(x.identity, x.credentials, market(x)),
    "find_order": lambda p, x: p.find_order(x.identity, x.credentials, x.account.id, "c"),
}


@pytest.mark.parametrize("call", sorted(CALLS))
async def test_a_revoked_user_is_gone(
    provider: SnapTradeProvider, linked: Linked, control: StubControl, call: str
) -> None:
    control.set("revoked")
    with pytest.raises(AccountGone) as caught:
        await CALLS[call](provider, linked)
    assert caught.value.reason == "Invalid userID or userSecret provided"
    assert control.count() == 1


async def test_unlink_of_a_revoked_user_does_not_raise(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    control.set("revoked")
    await provider.unlink(linked.identity, linked.credentials)


async def test_the_repr_keeps_the_consumer_key_out(provider: SnapTradeProvider) -> None:
    assert stub_module.CONSUMER_KEY not in repr(provider)
