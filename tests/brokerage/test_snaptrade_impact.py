"""SnapTrade's checked orders (``/trade/impact``, then ``/trade/{tradeId}``) through the
adapter against the local stub: the estimate read from ManualTradeAndImpact, the checked trade
placed once, an expired or reused one refused as SnapTrade documents; and Teller, which has no
trading, refusing previews."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from flint.brokerage.snaptrade import SnapTradeProvider
from flint.brokerage.teller import TellerProvider
from flint.brokerage.types import (
    Identity,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    Unsupported,
)
from flint.kit.http import VendorPolicy
from tests.stubs import snaptrade as stub_module
from tests.stubs.fixtures import Closing, closing, control, stub
from tests.stubs.server import RunningStub, StubControl
from tests.stubs.snaptrade.common import universal_symbol
from tests.stubs.snaptrade.fixtures import served_app, spec_checked
from tests.stubs.snaptrade.state import ImpactState
from tests.stubs.tls import make_certificates

__all__ = ["closing", "control", "served_app", "spec_checked", "stub"]

FAST = VendorPolicy(
    connect_timeout=1.0,
    read_timeout=0.5,
    attempts=2,
    backoff_initial=0.01,
    backoff_max=0.02,
    breaker_threshold=100,
)
NO_CA = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
AAPL_ID = universal_symbol("AAPL")["id"]


@pytest.fixture
def impact(served_app: Starlette) -> ImpactState:
    state: ImpactState = served_app.state.snaptrade.impact
    state.trades.clear()
    state.commission = Decimal("0.99")
    state.clock = lambda: datetime.now(UTC)
    return state


@pytest.fixture
def provider(stub: RunningStub, closing: Closing) -> SnapTradeProvider:
    return closing(
        SnapTradeProvider(
            stub_module.CLIENT_ID,
            stub_module.CONSUMER_KEY,
            base_url=stub.url,
            policy=FAST,
            transport=httpx.AsyncHTTPTransport(verify=NO_CA),
        )
    )


async def linked_account(
    provider: SnapTradeProvider, stub: RunningStub, kind: str = "trade"
) -> tuple[Identity, str]:
    identity = await provider.register(f"flint-{uuid.uuid4()}")
    async with httpx.AsyncClient(base_url=stub.url, verify=NO_CA) as client:
        answer = await client.post("/_connect", json={"userId": identity["userId"], "type": kind})
    link = await provider.link(identity, answer.json()["authorizationId"])
    return identity, link.accounts[0].id


def buy(account_id: str, quantity: str = "2", **fields: object) -> OrderRequest:
    return OrderRequest(
        account_id=account_id,
        client_order_id=str(uuid.uuid4()),
        symbol="AAPL",
        action=OrderAction.BUY,
        quantity=Decimal(quantity),
        **fields,  # type: ignore[arg-type]
    )


async def test_a_preview_reads_the_impact_and_places_exactly_the_checked_trade_once(
    provider: SnapTradeProvider, stub: RunningStub, control: StubControl, impact: ImpactState
) -> None:
    identity, account_id = await linked_account(provider, stub)
    before = datetime.now(UTC)
    order = buy(account_id)
    preview = await provider.preview_order(identity, {}, order)
    after = datetime.now(UTC)
    # The stub: AAPL at 123.45, cash 300.71, a commission of 0.99.
    assert preview.estimated_price == Decimal("123.45")
    assert preview.estimated_value == Decimal("246.90")
    assert preview.commission == Decimal("0.99")
    assert preview.buying_power_after == Decimal("300.71") - Decimal("246.90") - Decimal("0.99")
    assert preview.warnings == []
    assert preview.provider_ref in impact.trades
    assert preview.expires_at is not None
    # SnapTrade's five minutes, less half a minute for the way through Flint's queue.
    lifetime = timedelta(minutes=4, seconds=30)
    assert before + lifetime <= preview.expires_at <= after + lifetime
    checked = impact.trades[preview.provider_ref]
    assert checked.form["universal_symbol_id"] == AAPL_ID  # the spec's form: an id, no ticker
    assert "symbol" not in checked.form
    assert "client_order_id" not in checked.form

    placed = await provider.place_order(
        identity, {}, replace(order, preview_id=preview.provider_ref)
    )
    assert placed.status is OrderStatus.FILLED
    assert placed.quantity == Decimal(2)
    assert [seen.path for seen in control.requests if seen.path.startswith("/trade/")] == [
        "/trade/impact",
        f"/trade/{preview.provider_ref}",
    ]
    with pytest.raises(OrderRejected, match="already placed"):
        await provider.place_order(identity, {}, replace(order, preview_id=preview.provider_ref))
    assert len(impact.placed()) == 1


async def test_a_limit_preview_is_estimated_at_its_limit(
    provider: SnapTradeProvider, stub: RunningStub, impact: ImpactState
) -> None:
    identity, account_id = await linked_account(provider, stub)
    order = buy(account_id, "3", order_type=OrderType.LIMIT, limit_price=Decimal("50.5"))
    preview = await provider.preview_order(identity, {}, order)
    assert (preview.estimated_price, preview.estimated_value) == (
        Decimal("50.5"),
        Decimal("151.5"),
    )
    assert impact.trades[preview.provider_ref or ""].form["price"] == Decimal("50.5")


async def test_an_expired_checked_trade_is_refused(
    provider: SnapTradeProvider, stub: RunningStub, impact: ImpactState
) -> None:
    identity, account_id = await linked_account(provider, stub)
    order = buy(account_id)
    preview = await provider.preview_order(identity, {}, order)
    impact.clock = lambda: datetime.now(UTC) + timedelta(minutes=6)
    with pytest.raises(OrderRejected, match="expired"):
        await provider.place_order(identity, {}, replace(order, preview_id=preview.provider_ref))
    assert impact.placed() == []


async def test_refusals_of_the_impact_check_are_order_rejections(
    provider: SnapTradeProvider, stub: RunningStub, control: StubControl, impact: ImpactState
) -> None:
    identity, account_id = await linked_account(provider, stub)
    with pytest.raises(OrderRejected, match="Insufficient buying power"):
        await provider.preview_order(identity, {}, buy(account_id, "100"))
    with pytest.raises(OrderRejected, match="does not know the symbol"):
        await provider.preview_order(identity, {}, replace(buy(account_id), symbol="NOPE"))
    read_only, read_account = await linked_account(provider, stub, kind="read")
    with pytest.raises(OrderRejected):
        await provider.preview_order(read_only, {}, buy(read_account))
    with pytest.raises(OrderRejected, match="not a SnapTrade trade id"):
        await provider.place_order(identity, {}, replace(buy(account_id), preview_id="nope"))
    assert impact.placed() == []


async def test_teller_has_no_trading_to_preview(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    teller = TellerProvider(certificate=certs.client_cert, private_key=certs.client_key)
    try:
        with pytest.raises(Unsupported):
            await teller.preview_order({}, {"accessToken": "x"}, buy("acc_1"))
    finally:
        await teller.aclose()
