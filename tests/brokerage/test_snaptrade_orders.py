"""SnapTradeProvider's orders against the local SnapTrade stub: placing at most once, finding an
order whose answer was lost (with and without order listing), reading and cancelling."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from starlette.applications import Starlette

from flint.brokerage.snaptrade import SnapTradeProvider
from flint.brokerage.types import (
    AccountGone,
    AccountProviderError,
    OrderAction,
    OrderRejected,
    OrderStatus,
    OrderType,
    OrderUnconfirmed,
    TimeInForce,
)
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderError, ProviderUnavailable
from tests.stubs.fixtures import closing, control, stub
from tests.stubs.server import HOLD, StubControl
from tests.stubs.snaptrade import SnapTradeState
from tests.stubs.snaptrade.fixtures import (
    Build,
    Connect,
    Linked,
    build,
    connect,
    linked,
    market,
    posts_to_place,
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


def ours(state: SnapTradeState, client_order_id: str) -> list[str]:
    """The brokerage ids of the orders placed with this client order id."""
    return [
        o["brokerage_order_id"]
        for o in state.orders_placed()
        if o["client_order_id"] == client_order_id
    ]


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
    # Read real-time by its id, not from the (daily) order listing.
    assert control.requests[-1].path == f"/accounts/{linked.account.id}/orders/details"


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


async def test_an_order_not_placed_through_snaptrade_cannot_be_read_by_id(
    provider: SnapTradeProvider, linked: Linked
) -> None:
    with pytest.raises(AccountProviderError, match="knows no order"):
        await provider.get_order(
            linked.identity, linked.credentials, linked.account.id, SAMPLE_ORDER_ID
        )


async def test_an_order_without_a_total_quantity_is_read_from_its_parts(
    provider: SnapTradeProvider, linked: Linked, state: SnapTradeState
) -> None:
    placed = await provider.place_order(linked.identity, linked.credentials, market(linked, "2"))
    record = state.accounts[linked.account.id].orders[-1]
    record["total_quantity"] = None  # nullable in the spec
    order = await provider.get_order(
        linked.identity, linked.credentials, linked.account.id, placed.provider_order_id
    )
    assert (order.quantity, order.filled_quantity) == (Decimal(2), Decimal(2))


@pytest.mark.parametrize("lists_orders", [True, False], ids=["listing", "no-listing"])
async def test_a_brokerage_with_or_without_order_listing_trades(
    build: Build,
    linked: Linked,
    connect: Connect,
    state: SnapTradeState,
    control: StubControl,
    lists_orders: bool,
) -> None:
    provider = build()
    account = linked.account
    if not lists_orders:
        link = await provider.link(
            linked.identity, await connect(linked.identity, lists_orders=False)
        )
        account = link.accounts[0]
    request = market(linked, "1", account_id=account.id)
    placed = await provider.place_order(linked.identity, linked.credentials, request)
    again = await provider.get_order(
        linked.identity, linked.credentials, account.id, placed.provider_order_id
    )
    assert again.status is OrderStatus.FILLED
    assert not any(s.path.endswith("/orders") for s in control.requests)


@pytest.mark.parametrize("lists_orders", [True, False], ids=["listing", "no-listing"])
@pytest.mark.parametrize("scenario", ["lost_response", "lost_response_timeout"])
async def test_after_a_lost_response_the_order_is_found_or_unconfirmed_never_doubled(
    build: Build,
    linked: Linked,
    connect: Connect,
    state: SnapTradeState,
    control: StubControl,
    scenario: str,
    lists_orders: bool,
) -> None:
    account_id = linked.account.id
    if not lists_orders:
        link = await build().link(
            linked.identity, await connect(linked.identity, lists_orders=False)
        )
        account_id = link.accounts[0].id
    request = market(linked, account_id=account_id, not_before=utcnow() - timedelta(seconds=1))
    control.set(scenario, times=1, delay=HOLD)
    with pytest.raises(ProviderUnavailable):
        await build().place_order(linked.identity, linked.credentials, request)
    assert len(ours(state, request.client_order_id)) == 1

    # Another process asks SnapTrade. The listing is the daily cache: it does not show the
    # order yet, so only the real-time recent orders can.
    args = (linked.identity, linked.credentials, account_id, request.client_order_id)
    if lists_orders:
        found = await build().find_order(*args, request=request)
        assert found is not None
        assert found.provider_order_id == ours(state, request.client_order_id)[0]
        assert (found.status, found.client_order_id) == (
            OrderStatus.FILLED,
            request.client_order_id,
        )
    else:
        with pytest.raises(OrderUnconfirmed):
            await build().find_order(*args, request=request)
    assert len(ours(state, request.client_order_id)) == 1


async def test_find_order_misses_an_order_never_placed(
    provider: SnapTradeProvider, linked: Linked
) -> None:
    since = utcnow() - timedelta(seconds=1)
    await provider.place_order(linked.identity, linked.credentials, market(linked, "1"))
    request = market(linked, "2", not_before=since)
    missing = await provider.find_order(
        linked.identity,
        linked.credentials,
        linked.account.id,
        request.client_order_id,
        request=request,
    )
    assert missing is None


async def test_an_order_the_user_placed_by_hand_is_not_taken_for_flints(
    provider: SnapTradeProvider, linked: Linked, state: SnapTradeState
) -> None:
    request = market(linked, "2", not_before=utcnow() - timedelta(seconds=1))
    state.place_by_hand(linked.account.id, "AAPL", "BUY", Decimal(2))  # same symbol, side, size
    args = (linked.identity, linked.credentials, linked.account.id, request.client_order_id)
    assert await provider.find_order(*args, request=request) is None
    placed = await provider.place_order(linked.identity, linked.credentials, request)
    found = await provider.find_order(*args, request=request)
    assert found is not None
    assert found.provider_order_id == placed.provider_order_id


async def test_two_orders_that_could_be_it_leave_it_unconfirmed(
    provider: SnapTradeProvider, linked: Linked
) -> None:
    request = market(linked, "1", not_before=utcnow() - timedelta(seconds=1))
    first = await provider.place_order(linked.identity, linked.credentials, request)
    second = await provider.place_order(linked.identity, linked.credentials, market(linked, "1"))
    with pytest.raises(OrderUnconfirmed) as caught:
        await provider.find_order(
            linked.identity,
            linked.credentials,
            linked.account.id,
            request.client_order_id,
            request=request,
        )
    assert set(caught.value.candidates) == {first.provider_order_id, second.provider_order_id}


async def test_without_recent_orders_for_the_key_the_order_is_unconfirmed(
    provider: SnapTradeProvider, linked: Linked, state: SnapTradeState
) -> None:
    state.recent_orders = False  # the 403 "feature not enabled": not a gone link
    request = market(linked, "1", not_before=utcnow())
    with pytest.raises(OrderUnconfirmed) as caught:
        await provider.find_order(
            linked.identity,
            linked.credentials,
            linked.account.id,
            request.client_order_id,
            request=request,
        )
    assert not isinstance(caught.value, AccountGone)


async def test_a_flint_id_that_is_not_a_uuid_is_sent_as_one(
    provider: SnapTradeProvider, linked: Linked, served_app: Starlette
) -> None:
    request = market(linked, "1", client_order_id="trade-17")
    await provider.place_order(linked.identity, linked.credentials, request)
    sent = served_app.state.snaptrade.orders_placed()[-1]["client_order_id"]
    assert uuid.UUID(sent)


async def test_place_order_is_not_retried_on_a_500(
    provider: SnapTradeProvider, linked: Linked, control: StubControl, state: SnapTradeState
) -> None:
    before = len(state.orders_placed())
    control.set("500")
    with pytest.raises(ProviderUnavailable):
        await provider.place_order(linked.identity, linked.credentials, market(linked))
    assert posts_to_place(control) == 1
    assert len(state.orders_placed()) == before


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


async def test_unverifiable_data_is_a_credentials_problem_not_a_rejected_order(
    provider: SnapTradeProvider, linked: Linked, control: StubControl
) -> None:
    control.set("unverifiable_data")  # 400, code 1076
    with pytest.raises(ProviderError) as caught:
        await provider.place_order(linked.identity, linked.credentials, market(linked, "1"))
    assert not isinstance(caught.value, OrderRejected)
    assert "consumer key" in caught.value.reason


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
