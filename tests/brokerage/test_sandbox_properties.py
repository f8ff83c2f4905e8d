"""Properties of the sandbox's books under random trading: whatever sequence of market and limit
orders, cancels, price moves and matching runs, cash and positions follow exactly from the
fills (with the rounding rule), and nothing ever goes negative."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flint.brokerage.sandbox import SandboxProvider
from flint.brokerage.types import (
    Order,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from flint.config import Settings
from flint.kit.cache import create_cache
from flint.market.providers.factory import build_market
from flint.market.service import MarketData
from tests.brokerage.test_sandbox import Clock, set_price

SYMBOLS = ("AAPL", "NVDA", "BTC-USD")
START_PRICES = {"AAPL": Decimal("150.00"), "NVDA": Decimal("20.00"), "BTC-USD": Decimal("30000")}
START_CASH = Decimal("5000.00")
CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {"dir": tmp_path_factory.mktemp("sandbox-properties")}


@pytest.fixture
async def provider(world: dict[str, Path]) -> AsyncIterator[SandboxProvider]:
    """One sandbox database for every example; each example links a code of its own."""
    directory = world["dir"]
    settings_ = Settings(_env_file=None, data_dir=directory, market_providers=["simulated"])
    market = build_market(settings_, create_cache(None))
    sandbox = SandboxProvider(
        f"sqlite+aiosqlite:///{directory / 'sandbox.db'}", market, clock=Clock()
    )
    yield sandbox
    await sandbox.aclose()
    await market.aclose()


prices = st.decimals(min_value="1.00", max_value="400.00", places=2)
quantities = st.one_of(
    st.integers(min_value=1, max_value=30).map(Decimal),
    st.decimals(min_value="0.00000001", max_value="3", places=8),
)
symbols = st.sampled_from(SYMBOLS)
actions = st.sampled_from([OrderAction.BUY, OrderAction.SELL])
steps = st.one_of(
    st.tuples(st.just("price"), symbols, prices),
    st.tuples(st.just("market"), symbols, actions, quantities),
    st.tuples(
        st.just("limit"),
        symbols,
        actions,
        quantities,
        prices,
        st.sampled_from(list(TimeInForce)),
    ),
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50)),
    st.tuples(st.just("match")),
)


@dataclass
class Books:
    """What the test knows: the orders it placed and the account's starting point."""

    credentials: dict[str, str]
    account_id: str
    start_positions: dict[str, Decimal]
    orders: dict[str, Order] = field(default_factory=dict)

    def expected(self) -> tuple[Decimal, dict[str, Decimal]]:
        cash = START_CASH
        positions = dict(self.start_positions)
        for order in self.orders.values():
            if order.status is not OrderStatus.FILLED:
                assert order.filled_quantity == 0
                continue
            assert order.average_price is not None
            assert order.filled_quantity == order.quantity
            value = money(order.filled_quantity * order.average_price)
            sign = 1 if order.action is OrderAction.BUY else -1
            cash -= sign * value
            positions[order.symbol] = (
                positions.get(order.symbol, Decimal(0)) + sign * order.quantity
            )
        return cash, {symbol: q for symbol, q in positions.items() if q}


async def check(sandbox: SandboxProvider, books: Books) -> None:
    for order_id, order in list(books.orders.items()):
        if not order.status.final:
            books.orders[order_id] = await sandbox.get_order(
                {}, books.credentials, books.account_id, order_id
            )
    balances = await sandbox.balances({}, books.credentials, books.account_id)
    holdings = await sandbox.holdings({}, books.credentials, books.account_id)
    cash, positions = books.expected()
    assert balances.cash == cash
    assert cash >= 0
    assert {h.symbol: h.quantity for h in holdings} == positions
    assert all(h.quantity > 0 for h in holdings)
    assert all(h.cost_basis is not None and h.cost_basis >= 0 for h in holdings)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(steps, min_size=1, max_size=12))
async def test_cash_and_positions_follow_exactly_from_the_fills(
    provider: SandboxProvider, plan: list[tuple[Any, ...]]
) -> None:
    market: MarketData = provider.market
    for symbol, price in START_PRICES.items():
        await set_price(market, symbol, price)
    link = await provider.link({}, f"prop-{uuid.uuid4().hex}:cash-{START_CASH}")
    account_id = next(a.id for a in link.accounts if a.can_trade)
    holdings = await provider.holdings({}, link.credentials, account_id)
    books = Books(link.credentials, account_id, {h.symbol: h.quantity for h in holdings})
    current = dict(START_PRICES)

    for step in plan:
        kind = step[0]
        if kind == "price":
            _, symbol, price = step
            current[symbol] = price
            await set_price(market, symbol, price)
        elif kind == "match":
            for order in await provider.match_open_orders(account_id):
                books.orders[order.provider_order_id] = order
        elif kind == "cancel":
            if books.orders:
                order_id = sorted(books.orders)[step[1] % len(books.orders)]
                canceled = await provider.cancel_order({}, link.credentials, account_id, order_id)
                assert canceled.status.final
                books.orders[order_id] = canceled
        else:
            await check(provider, books)  # the books before, to predict market orders
            cash, positions = books.expected()
            _, symbol, action, quantity, *rest = step
            request = OrderRequest(
                account_id=account_id,
                client_order_id=uuid.uuid4().hex,
                symbol=symbol,
                action=action,
                quantity=quantity,
                order_type=OrderType.LIMIT if kind == "limit" else OrderType.MARKET,
                limit_price=rest[0] if rest else None,
                time_in_force=rest[1] if rest else TimeInForce.DAY,
            )
            try:
                placed = await provider.place_order({}, link.credentials, request)
            except OrderRejected:
                placed = None
            if placed is not None:
                books.orders[placed.provider_order_id] = placed
            if kind == "market":
                value = money(quantity * current[symbol])
                if action is OrderAction.BUY:
                    fills = CENT <= value <= cash
                else:
                    fills = quantity <= positions.get(symbol, Decimal(0))
                assert (placed is not None and placed.status is OrderStatus.FILLED) == fills
                assert placed is None or placed.average_price == current[symbol]
        await check(provider, books)

    for order in books.orders.values():
        event(f"{order.extra['order_type']} {order.status.value}")
    transactions = await provider.transactions({}, link.credentials, account_id)
    cash, positions = books.expected()
    assert sum(t.amount for t in transactions) == cash
    for symbol in SYMBOLS:
        traded = sum(
            (t.quantity or 0) * (1 if t.type == "buy" else -1)
            for t in transactions
            if t.symbol == symbol
        )
        assert traded == positions.get(symbol, 0)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(steps, min_size=1, max_size=12))
async def test_with_commissions_and_partial_fills_the_history_still_explains_the_books(
    provider: SandboxProvider, plan: list[tuple[Any, ...]]
) -> None:
    """On a ``partial:fees-1`` link: cash is the history's sum and never negative, positions are
    the net traded quantities, each order's fills add up to its filled quantity, and an order
    that filled anything reports the commission once."""
    market: MarketData = provider.market
    for symbol, price in START_PRICES.items():
        await set_price(market, symbol, price)
    link = await provider.link({}, f"prop-{uuid.uuid4().hex}:cash-{START_CASH}:partial:fees-1")
    account_id = next(a.id for a in link.accounts if a.can_trade)
    placed: list[str] = []
    for step in plan:
        kind = step[0]
        if kind == "price":
            await set_price(market, step[1], step[2])
        elif kind == "match":
            await provider.match_open_orders(account_id)
        elif kind == "cancel":
            if placed:
                order_id = placed[step[1] % len(placed)]
                await provider.cancel_order({}, link.credentials, account_id, order_id)
        else:
            _, symbol, action, quantity, *rest = step
            request = OrderRequest(
                account_id=account_id,
                client_order_id=uuid.uuid4().hex,
                symbol=symbol,
                action=action,
                quantity=quantity,
                order_type=OrderType.LIMIT if kind == "limit" else OrderType.MARKET,
                limit_price=rest[0] if rest else None,
                time_in_force=rest[1] if rest else TimeInForce.DAY,
            )
            try:
                order = await provider.place_order({}, link.credentials, request)
            except OrderRejected:
                continue
            placed.append(order.provider_order_id)
        balances = await provider.balances({}, link.credentials, account_id)
        assert balances.cash is not None
        assert balances.cash >= 0
        transactions = await provider.transactions({}, link.credentials, account_id)
        assert sum(t.amount for t in transactions) == balances.cash
        holdings = await provider.holdings({}, link.credentials, account_id)
        for symbol in SYMBOLS:
            traded = sum(
                (t.quantity or 0) * (1 if t.type == "buy" else -1)
                for t in transactions
                if t.symbol == symbol and t.description != "Opening balance"
            )
            assert traded == next((h.quantity for h in holdings if h.symbol == symbol), 0)
    final = [await provider.get_order({}, link.credentials, account_id, i) for i in placed]
    transactions = await provider.transactions({}, link.credentials, account_id)
    for order_id, order in zip(placed, final, strict=True):
        fills = [t for t in transactions if t.id.startswith(f"{order_id}_fill")]
        assert sum((t.quantity or 0) for t in fills) == order.filled_quantity
        assert order.fees == (Decimal("1.00") if order.filled_quantity else 0)
        assert order.filled_quantity <= order.quantity
        event(f"{order.extra['order_type']} {order.status.value}")
