"""Trading terms a link code sets: ``fees-<amount>`` (a commission per order, paid with its first
fill) and ``partial`` (day and gtc orders fill in two parts), so clients can test both."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flint.brokerage.sandbox import SandboxProvider
from flint.brokerage.types import LinkRefused, OrderRejected, OrderStatus, OrderType, TimeInForce
from flint.market.service import MarketData
from tests.brokerage.test_sandbox import (
    BUY,
    PRICES,
    SELL,
    cash,
    clock,
    held,
    link,
    market,
    money,
    new_code,
    order,
    postgres_scratch,
    sandbox,
    sandbox_url,
    set_price,
)

__all__ = ["clock", "market", "postgres_scratch", "sandbox", "sandbox_url"]  # fixtures

AAPL = Decimal(PRICES["AAPL"])


async def test_a_commission_is_paid_once_per_order_and_explained_by_the_history(
    sandbox: SandboxProvider,
) -> None:
    who = await link(sandbox, new_code(":fees-1"))
    start, shares = await cash(sandbox, who), await held(sandbox, who, "AAPL")
    bought = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "10"))
    assert bought.status is OrderStatus.FILLED
    assert bought.fees == Decimal("1.00")
    assert await cash(sandbox, who) == start - money(10 * AAPL) - 1
    newest = (await sandbox.transactions({}, who.credentials, who.brokerage))[0]
    assert newest.amount == -(money(10 * AAPL) + 1)
    assert "commission 1.00" in newest.description

    sold = await sandbox.place_order({}, who.credentials, order(who, "AAPL", SELL, "10"))
    assert sold.fees == Decimal("1.00")
    assert await cash(sandbox, who) == start - 2
    assert await held(sandbox, who, "AAPL") == shares
    transactions = await sandbox.transactions({}, who.credentials, who.brokerage)
    assert sum(t.amount for t in transactions) == await cash(sandbox, who)


async def test_a_commission_counts_against_buying_power(sandbox: SandboxProvider) -> None:
    who = await link(sandbox, new_code(":cash-189.84:fees-0.50"))
    with pytest.raises(OrderRejected, match="insufficient buying power"):
        await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "1"))
    assert await cash(sandbox, who) == AAPL


async def test_without_the_option_there_is_no_commission(sandbox: SandboxProvider) -> None:
    who = await link(sandbox)
    bought = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "1"))
    assert bought.fees == 0


async def test_a_partial_link_fills_half_then_the_rest_at_the_next_look(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    who = await link(sandbox, new_code(":partial:fees-1"))
    start, shares = await cash(sandbox, who), await held(sandbox, who, "AAPL")
    placed = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "11"))
    assert placed.status is OrderStatus.PARTIALLY_FILLED
    assert (placed.filled_quantity, placed.average_price) == (Decimal(5), AAPL)
    assert placed.fees == Decimal("1.00")
    assert await held(sandbox, who, "AAPL") == shares + 5
    assert await cash(sandbox, who) == start - money(5 * AAPL) - 1

    await set_price(market, "AAPL", "190.00")
    [done] = await sandbox.match_open_orders(who.brokerage)
    assert done.status is OrderStatus.FILLED
    assert done.filled_quantity == 11
    assert done.average_price == ((5 * AAPL + 6 * Decimal("190.00")) / 11).quantize(
        Decimal("0.000001")
    )
    assert done.fees == Decimal("1.00")  # once per order
    assert await held(sandbox, who, "AAPL") == shares + 11
    assert await cash(sandbox, who) == start - money(5 * AAPL) - Decimal("1140.00") - 1
    # This order's fills only: the account's seeded history may hold 5 or 6 AAPL too (a random
    # code's history did: 6 at 317.57).
    fills = [
        t
        for t in await sandbox.transactions({}, who.credentials, who.brokerage)
        if t.id.startswith(f"{placed.provider_order_id}_fill")
    ]
    assert [(t.quantity, t.price) for t in fills] == [(6, Decimal("190.00")), (5, AAPL)]


async def test_partial_fills_keep_fractional_quantities_and_whole_units(
    sandbox: SandboxProvider,
) -> None:
    who = await link(sandbox, new_code(":partial"))
    crypto = await sandbox.place_order({}, who.credentials, order(who, "BTC-USD", BUY, "0.01"))
    assert crypto.filled_quantity == Decimal("0.005")
    one = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "1"))
    assert (one.status, one.filled_quantity) == (OrderStatus.FILLED, 1)  # no half share
    ioc = await sandbox.place_order(
        {}, who.credentials, order(who, "AAPL", BUY, "4", time_in_force=TimeInForce.IOC)
    )
    assert (ioc.status, ioc.filled_quantity) == (OrderStatus.FILLED, 4)


async def test_a_partly_filled_order_canceled_keeps_what_filled(sandbox: SandboxProvider) -> None:
    who = await link(sandbox, new_code(":partial"))
    start = await cash(sandbox, who)
    placed = await sandbox.place_order(
        {},
        who.credentials,
        order(
            who,
            "AAPL",
            BUY,
            "4",
            order_type=OrderType.LIMIT,
            limit_price=Decimal("200"),
            time_in_force=TimeInForce.GTC,
        ),
    )
    assert (placed.status, placed.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, 2)
    canceled = await sandbox.cancel_order(
        {}, who.credentials, who.brokerage, placed.provider_order_id
    )
    assert (canceled.status, canceled.filled_quantity) == (OrderStatus.CANCELED, 2)
    assert await cash(sandbox, who) == start - money(2 * AAPL)
    assert await sandbox.match_open_orders(who.brokerage) == []


@pytest.mark.parametrize(
    ("code", "reason"),
    [("x:fees-lots", "number"), ("x:fees-1.234", "2 decimal"), ("x:fees-5000", "between")],
)
async def test_bad_fees_are_refused(sandbox: SandboxProvider, code: str, reason: str) -> None:
    with pytest.raises(LinkRefused) as refused:
        await sandbox.link({}, code)
    assert reason in refused.value.reason
