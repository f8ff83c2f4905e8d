"""The sandbox keeps market hours: equity orders placed while the exchange is closed are held
for its next session (a market order fills at that session's opening price, a day order that
has not filled by the close expires, a gtc order stays), crypto trades around the clock, and an
``always-open`` link trades at any hour. Each step shows in the order's status, raw status and
reason, which the trades feature records as the trade's events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flint.brokerage.sandbox import SandboxProvider
from flint.brokerage.types import OrderStatus, OrderType, TimeInForce
from flint.market.service import MarketData
from tests.brokerage.test_sandbox import (
    BUY,
    Clock,
    cash,
    clock,
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

# 2025: Wednesday June 18 trades 13:30-20:00 UTC, Thursday June 19 (Juneteenth) does not,
# Friday June 20 does, then the weekend, then Monday June 23.
WEDNESDAY_OPEN = datetime(2025, 6, 18, 13, 30, tzinfo=UTC)
WEDNESDAY_EVENING = datetime(2025, 6, 18, 23, 0, tzinfo=UTC)  # 19:00 in New York
FRIDAY_OPEN = datetime(2025, 6, 20, 13, 30, tzinfo=UTC)
FRIDAY_CLOSE = datetime(2025, 6, 20, 20, 0, tzinfo=UTC)
MONDAY_OPEN = datetime(2025, 6, 23, 13, 30, tzinfo=UTC)
LIMIT = {"order_type": OrderType.LIMIT, "limit_price": Decimal("100")}


async def test_a_market_buy_before_the_open_is_held_and_fills_at_the_opening_price(
    sandbox: SandboxProvider, market: MarketData, clock: Clock
) -> None:
    clock.now = WEDNESDAY_OPEN - timedelta(minutes=53)  # 08:37 in New York
    who = await link(sandbox)
    await set_price(market, "AAPL", "190.00", at=datetime(2025, 6, 17, 20, 0, tzinfo=UTC))
    start = await cash(sandbox, who)
    before = await sandbox.transactions({}, who.credentials, who.brokerage)

    placed = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "10"))
    assert placed.status is OrderStatus.SUBMITTED
    assert placed.raw_status == "held"
    assert placed.reason is not None
    assert "market is closed" in placed.reason
    assert "2025-06-18 09:30" in placed.reason
    assert placed.filled_quantity == 0
    assert placed.filled_at is None
    assert await cash(sandbox, who) == start
    assert await sandbox.transactions({}, who.credentials, who.brokerage) == before

    clock.now = WEDNESDAY_OPEN - timedelta(seconds=1)
    assert await sandbox.get_order(
        {}, who.credentials, who.brokerage, placed.provider_order_id
    ) == (placed)
    assert await sandbox.match_open_orders(who.brokerage) == []

    clock.now = WEDNESDAY_OPEN + timedelta(minutes=15)
    await set_price(market, "AAPL", "191.50", at=clock.now, opened="190.80")
    got = await sandbox.get_order({}, who.credentials, who.brokerage, placed.provider_order_id)
    assert got.status is OrderStatus.FILLED
    assert got.raw_status == "filled"
    assert got.reason is None
    assert got.average_price == Decimal("190.80")  # the open, not the price now
    assert got.filled_at == WEDNESDAY_OPEN
    assert got.updated_at == clock.now
    assert await cash(sandbox, who) == start - money(10 * Decimal("190.80"))
    newest = (await sandbox.transactions({}, who.credentials, who.brokerage))[0]
    assert (newest.date, newest.price, newest.quantity) == (
        date(2025, 6, 18),
        Decimal("190.80"),
        Decimal(10),
    )


async def test_a_held_order_read_days_later_fills_at_its_session_s_open_from_history(
    sandbox: SandboxProvider, market: MarketData, clock: Clock
) -> None:
    clock.now = WEDNESDAY_EVENING
    who = await link(sandbox)
    placed = await sandbox.place_order({}, who.credentials, order(who, "MSFT", BUY, "2"))
    assert placed.raw_status == "held"
    assert placed.reason is not None
    assert "2025-06-20 09:30" in placed.reason  # Juneteenth is a holiday

    clock.now = datetime(2025, 6, 24, 15, 0, tzinfo=UTC)  # nobody asked until Tuesday
    await set_price(market, "MSFT", "420.00", at=clock.now, opened="419.00")
    [bar] = await market.daily_bars("MSFT", date(2025, 6, 20), date(2025, 6, 20))
    [filled] = await sandbox.match_open_orders(who.brokerage)
    assert filled.status is OrderStatus.FILLED
    assert filled.average_price == bar.open
    assert filled.filled_at == FRIDAY_OPEN
    newest = (await sandbox.transactions({}, who.credentials, who.brokerage))[0]
    assert (newest.date, newest.price) == (date(2025, 6, 20), bar.open)


async def test_a_held_order_waits_while_the_quote_is_still_yesterday_s(
    sandbox: SandboxProvider, market: MarketData, clock: Clock
) -> None:
    clock.now = WEDNESDAY_EVENING
    who = await link(sandbox)
    await set_price(market, "AAPL", "190.00", at=datetime(2025, 6, 18, 20, 0, tzinfo=UTC))
    placed = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "1"))
    clock.now = FRIDAY_OPEN + timedelta(seconds=5)  # open, but the cached quote is Wednesday's
    got = await sandbox.get_order({}, who.credentials, who.brokerage, placed.provider_order_id)
    assert got.status is OrderStatus.SUBMITTED
    assert got.raw_status == "submitted"  # no longer held: it trades once a price comes
    await set_price(market, "AAPL", "188.00", at=clock.now, opened="187.50")
    got = await sandbox.get_order({}, who.credentials, who.brokerage, placed.provider_order_id)
    assert (got.status, got.average_price) == (OrderStatus.FILLED, Decimal("187.50"))


async def test_day_orders_expire_at_their_session_s_close_and_gtc_orders_stay(
    sandbox: SandboxProvider, market: MarketData, clock: Clock
) -> None:
    clock.now = WEDNESDAY_EVENING
    who = await link(sandbox)
    day = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "1", **LIMIT))
    gtc = await sandbox.place_order(
        {},
        who.credentials,
        order(who, "AAPL", BUY, "1", time_in_force=TimeInForce.GTC, **LIMIT),
    )
    assert [o.raw_status for o in (day, gtc)] == ["held", "held"]

    clock.now = FRIDAY_OPEN + timedelta(minutes=30)
    await set_price(market, "AAPL", "189.84", at=clock.now)
    released = await sandbox.match_open_orders(who.brokerage)
    assert [(o.status, o.raw_status, o.reason) for o in released] == [
        (OrderStatus.SUBMITTED, "submitted", None)
    ] * 2

    clock.now = FRIDAY_CLOSE - timedelta(seconds=1)
    assert await sandbox.match_open_orders(who.brokerage) == []
    clock.now = FRIDAY_CLOSE
    [expired] = await sandbox.match_open_orders(who.brokerage)
    assert expired.provider_order_id == day.provider_order_id
    assert expired.status is OrderStatus.EXPIRED
    assert expired.reason == "day order expired unfilled"
    assert expired.filled_quantity == 0

    clock.now = FRIDAY_CLOSE + timedelta(hours=2)
    await set_price(market, "AAPL", "95.00", at=clock.now)  # after hours: nothing trades
    assert await sandbox.match_open_orders(who.brokerage) == []
    clock.now = MONDAY_OPEN + timedelta(minutes=1)
    await set_price(market, "AAPL", "95.00", at=clock.now)
    [filled] = await sandbox.match_open_orders(who.brokerage)
    assert filled.provider_order_id == gtc.provider_order_id
    assert (filled.status, filled.average_price) == (OrderStatus.FILLED, Decimal("95.00"))
    assert filled.filled_at == clock.now


async def test_ioc_and_fok_orders_are_canceled_while_the_market_is_closed(
    sandbox: SandboxProvider, clock: Clock
) -> None:
    clock.now = WEDNESDAY_EVENING
    who = await link(sandbox)
    start = await cash(sandbox, who)
    for tif in (TimeInForce.IOC, TimeInForce.FOK):
        placed = await sandbox.place_order(
            {}, who.credentials, order(who, "AAPL", BUY, "1", time_in_force=tif)
        )
        assert placed.status is OrderStatus.CANCELED
        assert placed.reason == f"{tif.value} order cannot wait for the market to open"
    assert await cash(sandbox, who) == start


async def test_a_held_order_can_be_canceled_until_the_open(
    sandbox: SandboxProvider, market: MarketData, clock: Clock
) -> None:
    clock.now = WEDNESDAY_EVENING
    who = await link(sandbox)
    first = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "1"))
    second = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "1"))
    canceled = await sandbox.cancel_order(
        {}, who.credentials, who.brokerage, first.provider_order_id
    )
    assert canceled.status is OrderStatus.CANCELED
    clock.now = FRIDAY_OPEN + timedelta(minutes=1)
    await set_price(market, "AAPL", "190.00", at=clock.now, opened="189.00")
    late = await sandbox.cancel_order({}, who.credentials, who.brokerage, second.provider_order_id)
    assert late.status is OrderStatus.FILLED  # it filled at the open, before the cancel came
    assert late.average_price == Decimal("189.00")


async def test_crypto_trades_around_the_clock_and_its_day_ends_at_midnight_utc(
    sandbox: SandboxProvider, market: MarketData, clock: Clock
) -> None:
    clock.now = datetime(2025, 6, 21, 3, 0, tzinfo=UTC)  # Saturday night in New York
    who = await link(sandbox)
    await set_price(market, "BTC-USD", "61234.57", at=clock.now)
    bought = await sandbox.place_order({}, who.credentials, order(who, "BTC-USD", BUY, "0.01"))
    assert bought.status is OrderStatus.FILLED
    assert bought.average_price == Decimal("61234.57")
    day = await sandbox.place_order(
        {},
        who.credentials,
        order(
            who, "BTC-USD", BUY, "0.01", order_type=OrderType.LIMIT, limit_price=Decimal("50000")
        ),
    )
    assert (day.status, day.raw_status) == (OrderStatus.SUBMITTED, "submitted")
    clock.now = datetime(2025, 6, 21, 23, 59, tzinfo=UTC)
    assert await sandbox.match_open_orders(who.brokerage) == []
    clock.now = datetime(2025, 6, 22, 0, 0, tzinfo=UTC)
    [expired] = await sandbox.match_open_orders(who.brokerage)
    assert expired.status is OrderStatus.EXPIRED


async def test_an_always_open_link_trades_equities_at_any_hour(
    sandbox: SandboxProvider, market: MarketData, clock: Clock
) -> None:
    clock.now = datetime(2025, 6, 21, 3, 0, tzinfo=UTC)
    await set_price(market, "AAPL", "190.00", at=clock.now)
    who = await link(sandbox, new_code(":always-open"))
    placed = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "1"))
    assert (placed.status, placed.average_price) == (OrderStatus.FILLED, Decimal("190.00"))
    assert placed.filled_at == clock.now
