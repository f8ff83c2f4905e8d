"""SnapTradeProvider against the local SnapTrade stub (signatures checked, orders kept)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from flint.brokerage.snaptrade import SnapTradeProvider, signature
from flint.brokerage.snaptrade import client as snaptrade
from flint.brokerage.types import (
    AccountGone,
    AccountType,
    Balances,
    Holding,
    LinkRefused,
    OrderAction,
    OrderRejected,
    OrderRequest,
    ProviderAccount,
)
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderError, ProviderGarbage, ProviderUnavailable
from tests.stubs import snaptrade as stub_module
from tests.stubs.contract import Contract
from tests.stubs.fixtures import closing, control, stub
from tests.stubs.server import HOLD, RunningStub, StubControl
from tests.stubs.snaptrade.fixtures import (
    NO_CA,
    Build,
    Connect,
    Linked,
    build,
    connect,
    linked,
    market,
    provider,
    served_app,
    spec_checked,
    state,
)

__all__ = [
    "build",
    "closing",
    "connect",
    "control",
    "linked",
    "provider",
    "served_app",
    "spec_checked",
    "state",
    "stub",
]

SAMPLE_ORDER_ID = "66a033fa-da74-4fcf-b527-feefdec9257e"


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


async def test_calls_go_to_the_specs_root_paths(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    await provider.accounts(linked.identity, linked.credentials)
    assert [s.path for s in control.requests] == [
        f"/authorizations/{linked.credentials['authorizationId']}",
        "/accounts",
    ]


async def test_a_base_url_under_the_legacy_prefix_still_signs_right(
    build: Build, linked: Linked, stub: RunningStub, control: StubControl
) -> None:
    legacy = build(base_url=f"{stub.url}/api/v1")
    accounts = await legacy.accounts(linked.identity, linked.credentials)
    assert [a.id for a in accounts] == [linked.account.id]
    assert [s.path for s in control.requests][-1] == "/api/v1/accounts"


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


async def test_the_stub_refuses_an_unsigned_request(
    stub: RunningStub, spec_checked: Contract
) -> None:
    params = {"clientId": stub_module.CLIENT_ID, "timestamp": str(int(time.time()))}
    async with httpx.AsyncClient(base_url=stub.url, verify=NO_CA) as client:
        answer = await client.post("/snapTrade/registerUser", params=params, json={"userId": "x"})
    assert answer.status_code == 401
    assert answer.json() == {
        "detail": "Unable to verify signature sent",
        "status_code": 401,
        "code": "1076",
    }
    # The spec check saw the request break the spec (no Signature header).
    assert len(spec_checked.violations) == 1
    assert "SecurityValidationError" in spec_checked.violations[0]
    spec_checked.clear()


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


async def test_a_user_snaptrade_has_without_its_secret_is_replaced(
    provider: SnapTradeProvider, state: stub_module.SnapTradeState
) -> None:
    # The first registration's secret is lost (say the process died before storing it).
    key = f"flint-{uuid.uuid4()}"
    await provider.register(key)
    identity = await provider.register(key)
    assert identity["userId"].startswith(f"{key}.")
    assert state.users[identity["userId"]].secret == identity["userSecret"]
    assert key in state.deleted_users
    assert key not in state.users


@pytest.mark.parametrize("scenario", ["register_lost", "register_timeout"])
async def test_a_registration_whose_answer_is_lost_is_not_sent_again_but_recovered(
    provider: SnapTradeProvider,
    control: StubControl,
    state: stub_module.SnapTradeState,
    scenario: str,
) -> None:
    # SnapTrade creates the user, then its answer is lost (a 500, or a read timeout): sending
    # the registration again would only get "already exists" and never the secret.
    control.set(scenario, times=1, delay=HOLD)
    key = f"flint-{uuid.uuid4()}"
    identity = await provider.register(key)
    assert state.users[identity["userId"]].secret == identity["userSecret"]
    assert key in state.deleted_users  # the orphan, whose secret nobody has
    registrations = [s for s in control.requests if s.path == "/snapTrade/registerUser"]
    assert len(registrations) == 2  # the lost one, then the fresh user: never the same twice
    linked = await provider.link(identity, state.connect(identity["userId"]))
    assert linked.accounts


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


async def test_unlink_deletes_the_connection_and_is_idempotent(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    await provider.unlink(linked.identity, linked.credentials)
    connection = linked.credentials["authorizationId"]
    # DELETE /connection/{id} (the only route there): the spec's, not /authorizations/{id}
    assert [s.path for s in control.requests] == [f"/connection/{connection}"]
    with pytest.raises(AccountGone):
        await provider.accounts(linked.identity, linked.credentials)
    await provider.unlink(linked.identity, linked.credentials)  # 404: gone already
    await provider.unlink(linked.identity, {})  # no connection: nothing to do


async def test_an_unlink_snaptrade_did_not_carry_out_raises(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    # The connection is still alive at SnapTrade: the caller must not think it removed.
    control.set("500")
    with pytest.raises(ProviderUnavailable):
        await provider.unlink(linked.identity, linked.credentials)
    control.reset()
    assert (await provider.accounts(linked.identity, linked.credentials))[0].id == linked.account.id


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
    assert [s.path for s in control.requests] == [f"/accounts/{linked.account.id}/positions/all"]


async def test_a_position_without_units_does_not_sink_the_holdings(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    # ``units`` is nullable in the spec: such a position counts its tax lots, or is left out.
    control.set("null_units")
    holdings = await provider.holdings(linked.identity, linked.credentials, linked.account.id)
    assert [(h.symbol, h.quantity, h.cost_basis) for h in holdings] == [
        ("AAPL", Decimal("10.5"), Decimal("1241.100")),
        ("MYST", Decimal("10"), Decimal("1182.0")),
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


# --- errors -------------------------------------------------------------------------------------


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
    control.set("slow", delay=HOLD)
    with pytest.raises(ProviderUnavailable):
        await provider.accounts(linked.identity, linked.credentials)
    assert control.count() == 2


async def test_a_feature_not_enabled_is_not_a_gone_link(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    # The spec's other 403: the API key's plan, not the connection.
    control.set("feature_403")
    with pytest.raises(ProviderError) as caught:
        await provider.accounts(linked.identity, linked.credentials)
    assert not isinstance(caught.value, AccountGone)
    assert "not enabled" in caught.value.reason


@pytest.mark.parametrize("scenario", ["html", "truncated", "missing"])
async def test_garbage_is_refused(
    provider: SnapTradeProvider, linked: Linked, control: StubControl, scenario: str
) -> None:
    control.set(scenario)
    with pytest.raises(ProviderGarbage):
        await provider.accounts(linked.identity, linked.credentials)


CALLS: dict[str, Callable[[SnapTradeProvider, Linked], Awaitable[object]]] = {
    "accounts": lambda p, x: p.accounts(x.identity, x.credentials),
    "balances": lambda p, x: p.balances(x.identity, x.credentials, x.account.id),
    "holdings": lambda p, x: p.holdings(x.identity, x.credentials, x.account.id),
    "transactions": lambda p, x: p.transactions(x.identity, x.credentials, x.account.id),
    "place_order": lambda p, x: p.place_order(x.identity, x.credentials, market(x)),
    "find_order": lambda p, x: p.find_order(
        x.identity, x.credentials, x.account.id, "c", request=market(x, not_before=utcnow())
    ),
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
