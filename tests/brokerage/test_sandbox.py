"""The sandbox institution on real components: a real MarketData (simulated provider, prices
pinned through its quote cache) and the sandbox's own database, on SQLite and on PostgreSQL
when FLINT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from flint.brokerage.sandbox import SandboxProvider
from flint.brokerage.types import (
    AccountGone,
    AccountType,
    Capability,
    Credentials,
    LinkRefused,
    Order,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    ProviderAccount,
    TimeInForce,
    Unsupported,
)
from flint.config import Settings
from flint.db import create_engine
from flint.kit.cache import create_cache
from flint.market.providers.factory import build_market
from flint.market.providers.types import Quote
from flint.market.service import MarketData, quote_key, quote_to_json
from tests.conftest import WORKER, in_thread, service_url

NOW = datetime(2025, 6, 18, 15, 0, tzinfo=UTC)  # a Wednesday, 11:00 in New York
CENT = Decimal("0.01")
PRICES = {
    "AAPL": "189.84",
    "MSFT": "415.10",
    "VTI": "262.33",
    "SPY": "541.07",
    "NVDA": "131.38",
    "BTC-USD": "61234.57",
}


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


class Clock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def set_price(
    market: MarketData,
    symbol: str,
    price: str | Decimal,
    currency: str = "USD",
    *,
    at: datetime = NOW,
    opened: str | Decimal | None = None,
) -> None:
    """Pin ``symbol``'s quote in the market's cache, so `latest` answers ``price`` (a quote of
    the instant ``at``, whose session opened at ``opened``, else at ``price``)."""
    value = Decimal(price)
    zero = Decimal(0)
    quote = Quote(
        symbol=symbol,
        price=value,
        change=zero,
        change_percent=zero,
        open=value if opened is None else Decimal(opened),
        high=value,
        low=value,
        previous_close=value,
        volume=0,
        currency=currency,
        timestamp=at,
        provider="test",
    )
    await market.cache.set(quote_key(symbol), quote_to_json(quote), 3600)


def new_code(options: str = "") -> str:
    return f"test-{uuid.uuid4().hex[:12]}{options}"


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_scratch() -> Iterator[str]:
    """A scratch database for this module's sandboxes (each test links its own codes)."""
    base = make_url(service_url("FLINT_TEST_POSTGRES_URL", "PostgreSQL"))
    name = f"flint_sandbox_{WORKER}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        engine = create_engine(base.render_as_string(hide_password=False))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))
        await engine.dispose()

    in_thread(asyncio.run, admin(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    in_thread(asyncio.run, admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sandbox_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bank' / 'sandbox.db'}"
    url: str = request.getfixturevalue("postgres_scratch")
    return url


@pytest.fixture
async def market(tmp_path: Path) -> AsyncIterator[MarketData]:
    settings = Settings(_env_file=None, data_dir=tmp_path, market_providers=["simulated"])
    service = build_market(settings, create_cache(None))
    for symbol, price in PRICES.items():
        await set_price(service, symbol, price)
    yield service
    await service.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sandbox(
    sandbox_url: str, market: MarketData, clock: Clock
) -> AsyncIterator[SandboxProvider]:
    provider = SandboxProvider(sandbox_url, market, clock=clock)
    yield provider
    await provider.aclose()


@dataclass
class Linked:
    credentials: Credentials
    accounts: dict[str, ProviderAccount]

    @property
    def brokerage(self) -> str:
        return self.accounts["brokerage"].id


async def link(sandbox: SandboxProvider, code: str | None = None) -> Linked:
    result = await sandbox.link({}, code or new_code())
    return Linked(result.credentials, {account.type.value: account for account in result.accounts})


async def snapshot(sandbox: SandboxProvider, who: Linked, account_id: str) -> tuple[Any, ...]:
    return (
        await sandbox.balances({}, who.credentials, account_id),
        await sandbox.holdings({}, who.credentials, account_id),
        await sandbox.transactions({}, who.credentials, account_id),
    )


async def held(sandbox: SandboxProvider, who: Linked, symbol: str) -> Decimal:
    for holding in await sandbox.holdings({}, who.credentials, who.brokerage):
        if holding.symbol == symbol:
            return holding.quantity
    return Decimal(0)


async def cash(sandbox: SandboxProvider, who: Linked) -> Decimal:
    balances = await sandbox.balances({}, who.credentials, who.brokerage)
    assert balances.cash is not None
    return balances.cash


def order(
    who: Linked,
    symbol: str,
    action: OrderAction,
    quantity: str,
    *,
    client_order_id: str | None = None,
    **options: Any,
) -> OrderRequest:
    return OrderRequest(
        account_id=who.brokerage,
        client_order_id=client_order_id or uuid.uuid4().hex,
        symbol=symbol,
        action=action,
        quantity=Decimal(quantity),
        **options,
    )


BUY, SELL = OrderAction.BUY, OrderAction.SELL


# --- linking ----------------------------------------------------------------------------------


async def test_the_sandbox_speaks_the_protocol(sandbox: SandboxProvider) -> None:
    assert sandbox.name == "sandbox"
    assert Capability.TRADING in sandbox.capabilities
    assert Capability.PORTAL not in sandbox.capabilities
    assert await sandbox.register("user-1") == {}
    with pytest.raises(Unsupported):
        await sandbox.connect_url({}, redirect_url=None)


async def test_a_code_opens_a_brokerage_a_checking_and_a_savings_account(
    sandbox: SandboxProvider,
) -> None:
    code = new_code()
    who = await link(sandbox, code)
    assert who.credentials == {"code": code}
    assert set(who.accounts) == {"brokerage", "checking", "savings"}
    assert [a.type for a in await sandbox.accounts({}, who.credentials)] == [
        AccountType.BROKERAGE,
        AccountType.CHECKING,
        AccountType.SAVINGS,
    ]
    brokerage = who.accounts["brokerage"]
    assert brokerage.can_trade
    assert not who.accounts["checking"].can_trade
    assert brokerage.id.startswith("sbx_")
    assert brokerage.id.endswith("_brokerage")
    assert brokerage.mask is not None
    assert len(brokerage.mask) == 4

    balances = await sandbox.balances({}, who.credentials, brokerage.id)
    holdings = await sandbox.holdings({}, who.credentials, brokerage.id)
    assert balances.cash == Decimal("100000.00")
    assert balances.buying_power == balances.cash
    assert balances.available == balances.cash
    assert 3 <= len(holdings) <= 5
    assert {h.symbol for h in holdings} <= set(PRICES)
    value = sum((money(h.quantity * Decimal(PRICES[h.symbol])) for h in holdings), Decimal(0))
    assert balances.current == balances.cash + value
    for holding in holdings:
        assert holding.price == Decimal(PRICES[holding.symbol])
        assert holding.quantity > 0
        assert holding.cost_basis is not None
        assert holding.cost_basis > 0
        assert holding.name


async def test_linking_is_deterministic_in_any_database(
    sandbox: SandboxProvider, market: MarketData, clock: Clock, tmp_path: Path
) -> None:
    code = new_code()
    first = await link(sandbox, code)
    again = await link(sandbox, code)
    assert again == first  # the existing accounts, not copies

    fresh = SandboxProvider(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", market, clock=clock)
    try:
        elsewhere = await link(fresh, code)
        assert elsewhere == first
        for account_id in (a.id for a in first.accounts.values()):
            here = await snapshot(sandbox, first, account_id)
            assert here == await snapshot(fresh, elsewhere, account_id)
            assert here == await snapshot(sandbox, again, account_id)
    finally:
        await fresh.aclose()


async def test_different_codes_open_different_accounts(sandbox: SandboxProvider) -> None:
    one, two = await link(sandbox), await link(sandbox)
    assert {a.id for a in one.accounts.values()}.isdisjoint(a.id for a in two.accounts.values())
    history = [
        [
            (t.date, t.amount, t.description)
            for t in await sandbox.transactions({}, w.credentials, w.accounts["checking"].id)
        ]
        for w in (one, two)
    ]
    assert history[0] != history[1]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (":cash-25000", "25000.00"),
        (":cash=2500.50", "2500.50"),
        (":cash-0", "0.00"),
        (":CASH-1e3", "1000.00"),
    ],
)
async def test_the_code_sets_the_brokerage_cash(
    sandbox: SandboxProvider, options: str, expected: str
) -> None:
    who = await link(sandbox, new_code(options))
    assert await cash(sandbox, who) == Decimal(expected)
    transactions = await sandbox.transactions({}, who.credentials, who.brokerage)
    assert sum(t.amount for t in transactions) == Decimal(expected)


async def test_a_bare_cash_code_links(sandbox: SandboxProvider) -> None:
    who = await link(sandbox, "cash-25000")
    assert await cash(sandbox, who) == Decimal("25000.00")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("refuse", "refused"),
        ("Refuse-me-please", "refused"),
        ("x:cash-lots", "number"),
        ("x:cash-1.234", "2 decimal"),
        ("x:cash--5", "between"),
        ("x" * 201, "longer"),
    ],
)
async def test_bad_codes_are_refused(sandbox: SandboxProvider, code: str, reason: str) -> None:
    with pytest.raises(LinkRefused) as refused:
        await sandbox.link({}, code)
    assert reason in refused.value.reason
    assert refused.value.provider == "sandbox"


async def test_a_year_of_bank_history_that_reconciles(sandbox: SandboxProvider) -> None:
    who = await link(sandbox)
    today = NOW.date()
    checking = await sandbox.transactions({}, who.credentials, who.accounts["checking"].id)
    savings = await sandbox.transactions({}, who.credentials, who.accounts["savings"].id)

    assert checking == sorted(checking, key=lambda t: t.date, reverse=True)  # newest first
    assert checking[-1].description == "Opening balance"
    assert checking[-1].date == today - timedelta(days=364)
    assert checking[0].date >= today - timedelta(days=7)
    assert len({t.id for t in checking}) == len(checking)
    for transaction in checking + savings:
        assert transaction.amount == transaction.amount.quantize(CENT)
        assert transaction.amount != 0
        assert transaction.currency == "USD"
        assert transaction.status == "posted"

    salary = [t for t in checking if t.category == "income"]
    assert 25 <= len(salary) <= 27
    assert all(t.amount > 0 and t.date.weekday() == 4 for t in salary)
    assert len({t.amount for t in salary}) == 1
    assert 11 <= len([t for t in checking if t.category == "rent"]) <= 12
    cards = [t for t in checking if t.type == "card_payment"]
    assert len(cards) > 150  # several a week
    assert all(t.amount < 0 for t in cards)
    assert {t.category for t in cards} >= {"groceries", "dining"}
    assert any(t.category == "utilities" for t in checking)

    out = sorted((t.date, -t.amount) for t in checking if t.type == "transfer")
    into = sorted((t.date, t.amount) for t in savings if t.type == "transfer")
    assert out == into
    assert len(out) >= 11
    assert len([t for t in savings if t.type == "interest"]) >= 11

    running = Decimal(0)
    for transaction in reversed(checking):
        running += transaction.amount
        assert running >= 0
    for account in ("checking", "savings"):
        listed = await sandbox.transactions({}, who.credentials, who.accounts[account].id)
        balances = await sandbox.balances({}, who.credentials, who.accounts[account].id)
        assert balances.current == sum(t.amount for t in listed)
        assert balances.available == balances.current
        assert await sandbox.holdings({}, who.credentials, who.accounts[account].id) == []


async def test_the_brokerage_history_explains_its_cash_and_positions(
    sandbox: SandboxProvider,
) -> None:
    who = await link(sandbox)
    transactions = await sandbox.transactions({}, who.credentials, who.brokerage)
    assert sum(t.amount for t in transactions) == await cash(sandbox, who)
    for holding in await sandbox.holdings({}, who.credentials, who.brokerage):
        buys = [t for t in transactions if t.symbol == holding.symbol and t.type == "buy"]
        assert sum(t.quantity or 0 for t in buys) == holding.quantity
        assert -sum(t.amount for t in buys) == holding.cost_basis


async def test_starting_positions_were_bought_at_the_market_s_own_closes(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    who = await link(sandbox)
    transactions = await sandbox.transactions({}, who.credentials, who.brokerage)
    buys = [t for t in transactions if t.type == "buy"]
    assert len(buys) == len(await sandbox.holdings({}, who.credentials, who.brokerage))
    for buy in buys:
        assert buy.symbol is not None
        assert NOW.date() - timedelta(days=364) < buy.date <= NOW.date() - timedelta(days=180)
        [bar] = await market.daily_bars(buy.symbol, buy.date, buy.date)  # a session that day
        assert buy.price == bar.close
        assert buy.quantity is not None
        assert buy.amount == -money(buy.quantity * bar.close)


async def test_since_filters_transactions(sandbox: SandboxProvider) -> None:
    who = await link(sandbox)
    account = who.accounts["checking"].id
    every = await sandbox.transactions({}, who.credentials, account)
    since = NOW.date() - timedelta(days=30)
    recent = await sandbox.transactions({}, who.credentials, account, since=since)
    assert recent == [t for t in every if t.date >= since]
    assert 0 < len(recent) < len(every)


async def test_only_the_linking_credentials_reach_the_accounts(sandbox: SandboxProvider) -> None:
    alice, bob = await link(sandbox), await link(sandbox)
    with pytest.raises(AccountGone):
        await sandbox.balances({}, bob.credentials, alice.brokerage)
    with pytest.raises(AccountGone):
        await sandbox.holdings({}, {}, alice.brokerage)
    with pytest.raises(AccountGone):
        await sandbox.transactions({}, {"code": "nope"}, alice.accounts["checking"].id)
    with pytest.raises(AccountGone):
        await sandbox.place_order({}, bob.credentials, order(alice, "AAPL", BUY, "1"))
    with pytest.raises(AccountGone):
        await sandbox.balances({}, alice.credentials, "sbx_unknown_brokerage")

    await sandbox.unlink({}, alice.credentials)
    await sandbox.unlink({}, alice.credentials)  # never raises for a link it no longer knows
    await sandbox.unlink({}, {})
    with pytest.raises(AccountGone):
        await sandbox.accounts({}, alice.credentials)
    with pytest.raises(AccountGone):
        await sandbox.balances({}, alice.credentials, alice.brokerage)
    assert await sandbox.accounts({}, bob.credentials)

    again = await link(sandbox, alice.credentials["code"])
    assert again.accounts == alice.accounts


# --- market orders ----------------------------------------------------------------------------


async def test_market_buys_of_fractional_crypto_and_whole_shares_fill_at_the_price(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    who = await link(sandbox)
    await set_price(market, "BTC-USD", "61234.57")
    await set_price(market, "AAPL", "189.84")
    start_cash = await cash(sandbox, who)
    start_btc, start_aapl = await held(sandbox, who, "BTC-USD"), await held(sandbox, who, "AAPL")
    before = await sandbox.transactions({}, who.credentials, who.brokerage)

    btc = await sandbox.place_order({}, who.credentials, order(who, "BTC-USD", BUY, "0.01234567"))
    btc_cost = money(Decimal("0.01234567") * Decimal("61234.57"))
    assert btc_cost == Decimal("755.98")  # 755.9817938119 to the cent
    assert btc.status is OrderStatus.FILLED
    assert btc.raw_status == "filled"
    assert btc.filled_quantity == btc.quantity == Decimal("0.01234567")
    assert btc.average_price == Decimal("61234.57")
    assert btc.fees == 0
    assert btc.placed_at == btc.filled_at == btc.updated_at == NOW
    assert btc.symbol == "BTC-USD"

    aapl = await sandbox.place_order({}, who.credentials, order(who, "aapl", BUY, "10"))
    assert aapl.status is OrderStatus.FILLED
    assert aapl.symbol == "AAPL"
    assert aapl.average_price == Decimal("189.84")
    assert await cash(sandbox, who) == start_cash - btc_cost - Decimal("1898.40")
    assert await held(sandbox, who, "BTC-USD") == start_btc + Decimal("0.01234567")
    assert await held(sandbox, who, "AAPL") == start_aapl + 10

    after = await sandbox.transactions({}, who.credentials, who.brokerage)
    assert after[2:] == before
    newest, second = after[0], after[1]
    assert (newest.type, newest.symbol, newest.quantity, newest.price, newest.amount) == (
        "buy",
        "AAPL",
        Decimal(10),
        Decimal("189.84"),
        Decimal("-1898.40"),
    )
    assert (second.symbol, second.amount, second.date) == ("BTC-USD", -btc_cost, NOW.date())

    await set_price(market, "BTC-USD", "62000.01")
    sold = await sandbox.place_order({}, who.credentials, order(who, "BTC-USD", SELL, "0.01234567"))
    assert sold.status is OrderStatus.FILLED
    proceeds = money(Decimal("0.01234567") * Decimal("62000.01"))
    assert await cash(sandbox, who) == start_cash - btc_cost - Decimal("1898.40") + proceeds
    assert await held(sandbox, who, "BTC-USD") == start_btc
    latest = (await sandbox.transactions({}, who.credentials, who.brokerage))[0]
    assert (latest.type, latest.amount, latest.quantity) == (
        "sell",
        proceeds,
        Decimal("0.01234567"),
    )
    transactions = await sandbox.transactions({}, who.credentials, who.brokerage)
    assert sum(t.amount for t in transactions) == await cash(sandbox, who)


async def test_cash_moves_by_the_value_rounded_half_even_to_the_cent(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    who = await link(sandbox, new_code(":cash-1000"))
    await set_price(market, "NVDA", "100.01")
    await sandbox.place_order({}, who.credentials, order(who, "NVDA", BUY, "0.5"))
    assert await cash(sandbox, who) == Decimal("950.00")  # 50.005 -> 50.00
    await set_price(market, "NVDA", "100.03")
    await sandbox.place_order({}, who.credentials, order(who, "NVDA", BUY, "0.5"))
    assert await cash(sandbox, who) == Decimal("899.98")  # 50.015 -> 50.02
    await sandbox.place_order({}, who.credentials, order(who, "NVDA", SELL, "0.5"))
    assert await cash(sandbox, who) == Decimal("950.00")


async def test_selling_a_whole_position_closes_it_and_the_basis_follows_sales(
    sandbox: SandboxProvider,
) -> None:
    who = await link(sandbox, new_code(":cash-10000"))
    await sandbox.place_order({}, who.credentials, order(who, "NVDA", BUY, "3"))
    holdings = {h.symbol: h for h in await sandbox.holdings({}, who.credentials, who.brokerage)}
    quantity, basis = holdings["NVDA"].quantity, holdings["NVDA"].cost_basis
    assert basis is not None
    await sandbox.place_order({}, who.credentials, order(who, "NVDA", SELL, "1"))
    after = {h.symbol: h for h in await sandbox.holdings({}, who.credentials, who.brokerage)}
    assert after["NVDA"].quantity == quantity - 1
    assert after["NVDA"].cost_basis == basis - money(basis / quantity)
    await sandbox.place_order({}, who.credentials, order(who, "NVDA", SELL, str(quantity - 1)))
    assert "NVDA" not in {
        h.symbol for h in await sandbox.holdings({}, who.credentials, who.brokerage)
    }


async def test_selling_more_than_held_is_rejected_and_changes_nothing(
    sandbox: SandboxProvider,
) -> None:
    who = await link(sandbox)
    before = await snapshot(sandbox, who, who.brokerage)
    quantity = await held(sandbox, who, "MSFT")
    request = order(who, "MSFT", SELL, str(quantity + Decimal("0.5")))
    with pytest.raises(OrderRejected) as rejected:
        await sandbox.place_order({}, who.credentials, request)
    assert rejected.value.reason == "insufficient position"
    assert await snapshot(sandbox, who, who.brokerage) == before
    assert (
        await sandbox.find_order({}, who.credentials, who.brokerage, request.client_order_id)
        is None
    )


async def test_buying_beyond_cash_is_rejected_and_changes_nothing(sandbox: SandboxProvider) -> None:
    who = await link(sandbox, new_code(":cash-1000"))
    before = await snapshot(sandbox, who, who.brokerage)
    with pytest.raises(OrderRejected) as rejected:
        await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "10"))
    assert rejected.value.reason == "insufficient buying power"
    assert await snapshot(sandbox, who, who.brokerage) == before
    # exactly the cash is fine: 5 x 189.84 = 949.20, then 50.80 / 189.84 -> 0.26759...
    await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "5"))
    assert await cash(sandbox, who) == Decimal("50.80")
    filled = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "0.26760030"))
    assert filled.status is OrderStatus.FILLED  # 50.8012... rounds to 50.80
    assert await cash(sandbox, who) == Decimal("0.00")


async def test_the_same_client_order_id_places_one_order(sandbox: SandboxProvider) -> None:
    who = await link(sandbox)
    start = await cash(sandbox, who)
    request = order(who, "AAPL", BUY, "2", client_order_id="trade-1")
    first = await sandbox.place_order({}, who.credentials, request)
    again = await sandbox.place_order({}, who.credentials, request)
    together = await asyncio.gather(
        *(sandbox.place_order({}, who.credentials, request) for _ in range(5))
    )
    assert {o.provider_order_id for o in [again, *together]} == {first.provider_order_id}
    assert await cash(sandbox, who) == start - Decimal("379.68")
    transactions = await sandbox.transactions({}, who.credentials, who.brokerage)
    fills = [t for t in transactions if t.type == "buy" and t.date == NOW.date()]
    assert len(fills) == 1
    found = await sandbox.find_order({}, who.credentials, who.brokerage, "trade-1")
    assert found == first
    assert (
        await sandbox.get_order({}, who.credentials, who.brokerage, first.provider_order_id)
        == first
    )


async def test_twenty_concurrent_buys_never_spend_more_than_the_cash(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    who = await link(sandbox, new_code(":cash-10000"))
    await set_price(market, "AAPL", "1000.00")
    start_aapl = await held(sandbox, who, "AAPL")
    results = await asyncio.gather(
        *(
            sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "2"))
            for _ in range(20)
        ),
        return_exceptions=True,
    )
    filled = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, OrderRejected)]
    assert len(filled) + len(refused) == 20, [
        r for r in results if not isinstance(r, Order | OrderRejected)
    ]
    assert len(filled) == 5
    assert all(r.reason == "insufficient buying power" for r in refused)
    assert await cash(sandbox, who) == Decimal("0.00")
    assert await held(sandbox, who, "AAPL") == start_aapl + 10


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "quantity", "options", "reason"),
    [
        ("AAPL", "0", {}, "positive"),
        ("AAPL", "-1", {}, "positive"),
        ("AAPL", "0.000000001", {}, "8 decimal"),
        ("AAPL", "NaN", {}, "positive"),
        ("ZZZZQQ", "1", {}, "unknown symbol"),
        ("not a symbol!", "1", {}, "invalid symbol"),
        ("^GSPC", "1", {}, "not tradable"),
        ("EURUSD=X", "1", {}, "not tradable"),
        ("AAPL", "1", {"order_type": OrderType.LIMIT}, "limit_price"),
        ("AAPL", "1", {"order_type": OrderType.STOP}, "stop_price"),
        (
            "AAPL",
            "1",
            {"order_type": OrderType.STOP_LIMIT, "stop_price": Decimal(1)},
            "limit_price",
        ),
        ("AAPL", "1", {"limit_price": Decimal(100)}, "no limit_price"),
        ("AAPL", "1", {"order_type": OrderType.LIMIT, "limit_price": Decimal(0)}, "positive"),
        ("AAPL", "0.00001", {}, "below $0.01"),
    ],
)
async def test_bad_orders_are_rejected(
    sandbox: SandboxProvider, symbol: str, quantity: str, options: dict[str, Any], reason: str
) -> None:
    who = await link(sandbox)
    before = await snapshot(sandbox, who, who.brokerage)
    with pytest.raises(OrderRejected) as rejected:
        await sandbox.place_order({}, who.credentials, order(who, symbol, BUY, quantity, **options))
    assert reason in rejected.value.reason
    assert await snapshot(sandbox, who, who.brokerage) == before


async def test_only_instruments_in_the_account_currency_trade(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    who = await link(sandbox)
    await set_price(market, "SAP.DE", "180.00", currency="EUR")  # known to the market only
    with pytest.raises(OrderRejected, match="only USD instruments"):
        await sandbox.place_order({}, who.credentials, order(who, "SAP.DE", BUY, "1"))


async def test_bank_accounts_do_not_trade(sandbox: SandboxProvider) -> None:
    who = await link(sandbox)
    request = OrderRequest(
        account_id=who.accounts["checking"].id,
        client_order_id="x",
        symbol="AAPL",
        action=BUY,
        quantity=Decimal(1),
    )
    with pytest.raises(OrderRejected, match="does not trade"):
        await sandbox.place_order({}, who.credentials, request)


async def test_unknown_orders_are_rejected(sandbox: SandboxProvider) -> None:
    who = await link(sandbox)
    with pytest.raises(OrderRejected, match="unknown order"):
        await sandbox.get_order({}, who.credentials, who.brokerage, "sbx_ord_nope")
    with pytest.raises(OrderRejected, match="unknown order"):
        await sandbox.cancel_order({}, who.credentials, who.brokerage, "sbx_ord_nope")


# --- resting orders ---------------------------------------------------------------------------


async def test_a_limit_buy_rests_until_the_price_crosses(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    who = await link(sandbox)
    await set_price(market, "AAPL", "200.00")
    start = await cash(sandbox, who)
    placed = await sandbox.place_order(
        {},
        who.credentials,
        order(
            who,
            "AAPL",
            BUY,
            "3",
            order_type=OrderType.LIMIT,
            limit_price=Decimal("150"),
            time_in_force=TimeInForce.GTC,
        ),
    )
    assert placed.status is OrderStatus.SUBMITTED
    assert placed.filled_quantity == 0
    assert placed.average_price is None
    assert placed.extra["limit_price"] == "150"
    assert await sandbox.match_open_orders(who.brokerage) == []
    await set_price(market, "AAPL", "150.01")
    assert await sandbox.match_open_orders(who.brokerage) == []
    assert await cash(sandbox, who) == start

    await set_price(market, "AAPL", "149.37")
    changed = await sandbox.match_open_orders(who.brokerage)
    assert [o.provider_order_id for o in changed] == [placed.provider_order_id]
    filled = changed[0]
    assert filled.status is OrderStatus.FILLED
    assert filled.average_price == Decimal("149.37")  # the price, which is under the limit
    assert await cash(sandbox, who) == start - Decimal("448.11")
    assert await sandbox.match_open_orders(who.brokerage) == []


async def test_reading_an_order_evaluates_it(sandbox: SandboxProvider, market: MarketData) -> None:
    who = await link(sandbox)
    await sandbox.place_order({}, who.credentials, order(who, "VTI", BUY, "2"))
    quantity = await held(sandbox, who, "VTI")
    placed = await sandbox.place_order(
        {},
        who.credentials,
        order(who, "VTI", SELL, "1", order_type=OrderType.LIMIT, limit_price=Decimal("300")),
    )
    assert placed.status is OrderStatus.SUBMITTED
    await set_price(market, "VTI", "305.55")
    found = await sandbox.find_order(
        {}, who.credentials, who.brokerage, placed.client_order_id or ""
    )
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert found.average_price == Decimal("305.55")
    assert await held(sandbox, who, "VTI") == quantity - 1
    got = await sandbox.get_order({}, who.credentials, who.brokerage, placed.provider_order_id)
    assert got == found


async def test_stop_orders_trigger_and_stop_limits_wait_for_their_limit(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    who = await link(sandbox)
    await set_price(market, "MSFT", "400.00")
    stop = await sandbox.place_order(
        {},
        who.credentials,
        order(who, "MSFT", BUY, "1", order_type=OrderType.STOP, stop_price=Decimal("410")),
    )
    stop_limit = await sandbox.place_order(
        {},
        who.credentials,
        order(
            who,
            "MSFT",
            BUY,
            "1",
            order_type=OrderType.STOP_LIMIT,
            stop_price=Decimal("410"),
            limit_price=Decimal("405"),
        ),
    )
    assert stop.status is stop_limit.status is OrderStatus.SUBMITTED
    assert stop_limit.extra["triggered"] == "false"

    await set_price(market, "MSFT", "412.50")
    changed = {o.provider_order_id: o for o in await sandbox.match_open_orders(who.brokerage)}
    assert changed[stop.provider_order_id].status is OrderStatus.FILLED
    assert changed[stop.provider_order_id].average_price == Decimal("412.50")
    waiting = changed[stop_limit.provider_order_id]
    assert waiting.status is OrderStatus.SUBMITTED  # triggered, but above its limit
    assert waiting.extra["triggered"] == "true"

    await set_price(market, "MSFT", "399.00")  # under the stop again: still a limit order now
    got = await sandbox.get_order({}, who.credentials, who.brokerage, stop_limit.provider_order_id)
    assert got.status is OrderStatus.FILLED
    assert got.average_price == Decimal("399.00")

    quantity = await held(sandbox, who, "MSFT")
    sell_stop = await sandbox.place_order(
        {},
        who.credentials,
        order(who, "MSFT", SELL, "1", order_type=OrderType.STOP, stop_price=Decimal("390")),
    )
    assert sell_stop.status is OrderStatus.SUBMITTED
    await set_price(market, "MSFT", "389.99")
    assert [o.status for o in await sandbox.match_open_orders(who.brokerage)] == [
        OrderStatus.FILLED
    ]
    assert await held(sandbox, who, "MSFT") == quantity - 1


async def test_a_marketable_limit_fills_at_once_at_the_price(sandbox: SandboxProvider) -> None:
    who = await link(sandbox)
    placed = await sandbox.place_order(
        {},
        who.credentials,
        order(who, "AAPL", BUY, "1", order_type=OrderType.LIMIT, limit_price=Decimal("250")),
    )
    assert placed.status is OrderStatus.FILLED
    assert placed.average_price == Decimal(PRICES["AAPL"])


@pytest.mark.parametrize("tif", [TimeInForce.IOC, TimeInForce.FOK])
async def test_ioc_and_fok_limits_that_cannot_fill_are_canceled(
    sandbox: SandboxProvider, tif: TimeInForce
) -> None:
    who = await link(sandbox)
    start = await cash(sandbox, who)
    placed = await sandbox.place_order(
        {},
        who.credentials,
        order(
            who,
            "AAPL",
            BUY,
            "1",
            order_type=OrderType.LIMIT,
            limit_price=Decimal("100"),
            time_in_force=tif,
        ),
    )
    assert placed.status is OrderStatus.CANCELED
    assert placed.reason is not None
    assert tif.value in placed.reason
    market_order = await sandbox.place_order(
        {}, who.credentials, order(who, "AAPL", BUY, "1", time_in_force=tif)
    )
    assert market_order.status is OrderStatus.FILLED
    assert await cash(sandbox, who) == start - Decimal(PRICES["AAPL"])


async def test_cancel_an_open_order_and_a_filled_one_stays_filled(
    sandbox: SandboxProvider, market: MarketData, clock: Clock
) -> None:
    who = await link(sandbox)
    placed = await sandbox.place_order(
        {},
        who.credentials,
        order(who, "AAPL", BUY, "1", order_type=OrderType.LIMIT, limit_price=Decimal("100")),
    )
    clock.now = NOW + timedelta(minutes=5)
    canceled = await sandbox.cancel_order(
        {}, who.credentials, who.brokerage, placed.provider_order_id
    )
    assert canceled.status is OrderStatus.CANCELED
    assert canceled.updated_at == clock.now
    assert canceled.placed_at == NOW
    await set_price(market, "AAPL", "90.00")
    assert await sandbox.match_open_orders(who.brokerage) == []
    again = await sandbox.cancel_order({}, who.credentials, who.brokerage, placed.provider_order_id)
    assert again == canceled

    filled = await sandbox.place_order({}, who.credentials, order(who, "AAPL", BUY, "1"))
    kept = await sandbox.cancel_order({}, who.credentials, who.brokerage, filled.provider_order_id)
    assert kept == filled


async def test_cash_an_open_buy_holds_back_cannot_be_spent_again(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    """As a broker does: a resting limit buy holds its cost back from the buying power, so a
    second buy that the cash alone would pay is refused when placed (two weekend buys of 190
    AAPL against 100,000 were both accepted, the second rejected only at the open)."""
    who = await link(sandbox, new_code(":cash-1000"))
    await set_price(market, "NVDA", "100.00")
    resting = order(
        who,
        "NVDA",
        BUY,
        "9",
        order_type=OrderType.LIMIT,
        limit_price=Decimal("90"),
        time_in_force=TimeInForce.GTC,
    )
    placed = await sandbox.place_order({}, who.credentials, resting)
    assert placed.status is OrderStatus.SUBMITTED
    balances = await sandbox.balances({}, who.credentials, who.brokerage)
    assert (balances.cash, balances.buying_power) == (Decimal("1000.00"), Decimal("190.00"))

    with pytest.raises(OrderRejected, match="insufficient buying power"):
        await sandbox.preview_order({}, who.credentials, order(who, "NVDA", BUY, "5"))
    with pytest.raises(OrderRejected, match="insufficient buying power"):
        await sandbox.place_order({}, who.credentials, order(who, "NVDA", BUY, "5"))
    assert await cash(sandbox, who) == Decimal("1000.00")
    small = await sandbox.place_order({}, who.credentials, order(who, "NVDA", BUY, "1"))
    assert small.status is OrderStatus.FILLED

    await set_price(market, "NVDA", "89.00")
    [filled] = await sandbox.match_open_orders(who.brokerage)
    assert filled.status is OrderStatus.FILLED
    assert await cash(sandbox, who) == Decimal("1000.00") - Decimal("100.00") - Decimal("801.00")


async def test_a_stop_buy_that_fills_above_what_it_held_back_and_cannot_be_paid_is_rejected(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    """What an open order holds back is its price when placed; the fill is at the price then,
    and one the cash no longer covers is rejected then, nothing spent."""
    who = await link(sandbox, new_code(":cash-1000"))
    await set_price(market, "NVDA", "90.00")
    stop = order(
        who,
        "NVDA",
        BUY,
        "9",
        order_type=OrderType.STOP,
        stop_price=Decimal("100"),
        time_in_force=TimeInForce.GTC,
    )
    placed = await sandbox.place_order({}, who.credentials, stop)
    assert placed.status is OrderStatus.SUBMITTED

    await set_price(market, "NVDA", "120.00")
    [rejected] = await sandbox.match_open_orders(who.brokerage)

    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reason == "insufficient buying power"
    assert await cash(sandbox, who) == Decimal("1000.00")


async def test_units_an_open_sale_holds_back_cannot_be_sold_again(
    sandbox: SandboxProvider, market: MarketData
) -> None:
    """A resting sale of every unit held used to leave them free to be sold again (and was
    rejected at its fill); a broker holds them for it."""
    who = await link(sandbox, new_code(":cash-1000"))
    await sandbox.place_order({}, who.credentials, order(who, "NVDA", BUY, "2"))
    quantity = await held(sandbox, who, "NVDA")
    resting = order(
        who, "NVDA", SELL, str(quantity), order_type=OrderType.LIMIT, limit_price=Decimal("500")
    )
    placed = await sandbox.place_order({}, who.credentials, resting)

    with pytest.raises(OrderRejected, match="insufficient position"):
        await sandbox.place_order({}, who.credentials, order(who, "NVDA", SELL, "1"))

    await set_price(market, "NVDA", "501.00")
    got = await sandbox.get_order({}, who.credentials, who.brokerage, placed.provider_order_id)
    assert got.status is OrderStatus.FILLED
    assert await held(sandbox, who, "NVDA") == 0


async def test_orders_survive_a_restart(
    sandbox_url: str, sandbox: SandboxProvider, market: MarketData, clock: Clock
) -> None:
    who = await link(sandbox)
    placed = await sandbox.place_order(
        {},
        who.credentials,
        order(who, "AAPL", BUY, "1", order_type=OrderType.LIMIT, limit_price=Decimal("100")),
    )
    await sandbox.aclose()
    reopened = SandboxProvider(sandbox_url, market, clock=clock)
    try:
        got = await reopened.get_order({}, who.credentials, who.brokerage, placed.provider_order_id)
        assert got == placed
    finally:
        await reopened.aclose()
