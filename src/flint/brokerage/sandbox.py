"""``sandbox``: Flint's built-in institution, a simulated bank and brokerage with its own books.

It is a real program behind the `AccountProvider` Protocol, not a mock: links, accounts,
positions, transactions and orders live in the sandbox's own database (`sandbox_store`), every
operation is its own short transaction there, and orders trade at the prices Flint's
`MarketData` gives (`latest`), so what a user sees in Flint matches what a broker would do.

Linking (`sandbox_data` has the details): any non-empty code links; it opens a brokerage, a
checking and a savings account generated deterministically from the code, with a year of
history ending on the link day. A ``cash-<amount>`` part in the code (``cash-25000``,
``alice:cash-2500.50``; ``cash=<amount>`` too) sets the brokerage cash ($100,000.00 otherwise);
codes starting with ``refuse`` are refused. Linking a code again gives the same accounts (the
existing ones, never duplicates). The credentials are ``{"code": <code>}``; every call checks
that they own the account (else `AccountGone`).

Trading (the brokerage account only; no margin, no fees, no partial fills):

* Cash moves by ``money(quantity * price)``: the product rounded to the cent, half-even. A buy
  takes that much cash, a sale gives that much; a fill's transaction carries the same amount,
  so cash always equals the sum of the account's transactions. A sale lowers the cost basis
  by ``money(basis * sold / held)`` (all of it when the position is closed).
* Quantities are positive with at most 8 decimals (fractional shares and crypto alike).
  Equities, ETFs, funds and crypto quoted in the account's currency trade; indices, FX and
  unknown symbols are rejected. A buy must cost at least $0.01.
* Market orders fill at once at the current price. Limit, stop and stop-limit orders rest as
  ``submitted`` and are evaluated whenever they are read (`get_order`, `find_order`, placing the
  same ``client_order_id`` again) or `match_open_orders` runs: a buy limit fills when the price
  is at or below the limit, a sell limit at or above (at the current price); a buy stop
  triggers at or above its stop, a sell stop at or below, and then fills like a market order
  (stop) or becomes a limit order (stop-limit). A resting order that cannot be paid for (or
  sold) when it would fill is rejected with the reason.
* Placement checks buying power (at the limit price for limit orders, the current price
  otherwise) and the position for sales; a refusal raises `OrderRejected` and records nothing.
  ``ioc``/``fok`` orders that cannot fill at once are canceled; ``day`` orders expire once the
  New York date they were placed on has passed; ``gtc`` orders stay until filled or canceled.
* ``client_order_id`` is unique per account: placing it again returns the existing order.
* Balances: a bank account's ``current`` and ``available`` are its ledger balance; a
  brokerage's ``cash``, ``available`` and ``buying_power`` are its cash and ``current`` is
  cash plus each position's ``money(quantity * price)`` at the current prices.
* Concurrency: a fill's cash, position, order and transaction change in one transaction that
  first locks the account (``BEGIN IMMEDIATE`` on SQLite, ``SELECT … FOR UPDATE`` on
  PostgreSQL), so concurrent orders can never spend the same cash twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Row, delete, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from flint.brokerage import sandbox_store as store
from flint.brokerage.sandbox_data import (
    CENT,
    CodeRefused,
    LinkCode,
    code_key,
    generate,
    money,
    parse_code,
)
from flint.brokerage.types import (
    AccountGone,
    AccountType,
    Balances,
    Capability,
    Credentials,
    Holding,
    Identity,
    Link,
    LinkRefused,
    Order,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    ProviderAccount,
    TimeInForce,
    Transaction,
    Unsupported,
)
from flint.db import READ_ONLY, create_engine
from flint.errors import NotFound
from flint.kit.calendar import local_date
from flint.kit.symbols import normalize_symbol
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderUnavailable
from flint.market.providers.types import InstrumentType
from flint.market.service import MarketData, ProvidersFailed, QuoteView

log = structlog.get_logger(__name__)

INSTITUTION = "Flint Sandbox"
MAX_DECIMALS = 8
MAX_QUANTITY = Decimal(10) ** 12
_STEP = Decimal(1).scaleb(-MAX_DECIMALS)
TRADABLE = frozenset(
    {InstrumentType.EQUITY, InstrumentType.ETF, InstrumentType.FUND, InstrumentType.CRYPTO}
)
_LIMITED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_STOPPED = (OrderType.STOP, OrderType.STOP_LIMIT)
_SETUP_LOCK_ID = 0x5A4D_B0C5  # pg_advisory_xact_lock key: one create_all at a time


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _positive(provider: str, value: Decimal | None, what: str) -> Decimal:
    """A positive amount with at most `MAX_DECIMALS` places, in plain digits (1E+2 is 100)."""
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise OrderRejected(provider, f"{what} must be a positive number")
    if value > MAX_QUANTITY:
        raise OrderRejected(provider, f"{what} is too large")
    if value != value.quantize(_STEP):
        raise OrderRejected(provider, f"{what} has at most {MAX_DECIMALS} decimal places")
    if _exponent(value) > 0:
        return value.quantize(Decimal(1))
    if _exponent(value) < -MAX_DECIMALS:
        return value.quantize(_STEP)
    return value


@dataclass(frozen=True)
class _Request:
    account_id: str
    client_order_id: str
    symbol: str
    action: OrderAction
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    stop_price: Decimal | None


@dataclass(frozen=True)
class _Decision:
    status: OrderStatus
    triggered: bool
    price: Decimal | None = None
    value: Decimal | None = None
    reason: str | None = None


def _expired(order: Row[Any], now: datetime) -> bool:
    day: date = order.trading_day
    return order.time_in_force == TimeInForce.DAY and local_date(now) > day


def _decide(
    order: Row[Any],
    price: Decimal | None,
    now: datetime,
    cash: Decimal,
    held: Decimal,
    *,
    immediate: bool,
) -> _Decision:
    """What an open order does now, at ``price`` (None: no price to be had)."""
    triggered = bool(order.triggered)
    if _expired(order, now):
        return _Decision(OrderStatus.EXPIRED, triggered, reason="day order expired unfilled")
    if price is None:
        return _Decision(OrderStatus.SUBMITTED, triggered)
    buy = order.action == OrderAction.BUY
    kind = OrderType(order.order_type)
    if kind in _STOPPED and not triggered:
        triggered = price >= order.stop_price if buy else price <= order.stop_price
    if kind is OrderType.MARKET:
        executable = True
    elif kind is OrderType.STOP:
        executable = triggered
    else:
        crosses = price <= order.limit_price if buy else price >= order.limit_price
        executable = crosses and (kind is OrderType.LIMIT or triggered)
    if not executable:
        tif = TimeInForce(order.time_in_force)
        if immediate and tif in (TimeInForce.IOC, TimeInForce.FOK):
            reason = f"{tif.value} order could not fill at once (price {price})"
            return _Decision(OrderStatus.CANCELED, triggered, reason=reason)
        return _Decision(OrderStatus.SUBMITTED, triggered)
    quantity: Decimal = order.quantity
    value = money(quantity * price)
    if buy and value < CENT:
        return _Decision(OrderStatus.REJECTED, triggered, reason="order value is below $0.01")
    if buy and value > cash:
        return _Decision(OrderStatus.REJECTED, triggered, reason="insufficient buying power")
    if not buy and quantity > held:
        return _Decision(OrderStatus.REJECTED, triggered, reason="insufficient position")
    return _Decision(OrderStatus.FILLED, triggered, price, value)


def _to_order(row: Row[Any]) -> Order:
    extra = {"order_type": row.order_type, "time_in_force": row.time_in_force}
    if row.limit_price is not None:
        extra["limit_price"] = str(row.limit_price)
    if row.stop_price is not None:
        extra["stop_price"] = str(row.stop_price)
        extra["triggered"] = "true" if row.triggered else "false"
    return Order(
        provider_order_id=row.id,
        client_order_id=row.client_order_id,
        status=OrderStatus(row.status),
        symbol=row.symbol,
        action=OrderAction(row.action),
        quantity=row.quantity,
        filled_quantity=row.filled_quantity,
        average_price=row.average_price,
        fees=Decimal(0),
        reason=row.reason,
        placed_at=row.placed_at,
        updated_at=row.updated_at,
        filled_at=row.filled_at,
        raw_status=row.status,
        extra=extra,
    )


def _to_account(row: Row[Any]) -> ProviderAccount:
    return ProviderAccount(
        id=row.id,
        name=row.name,
        type=AccountType(row.kind),
        currency=row.currency,
        institution=INSTITUTION,
        mask=row.mask,
        can_trade=row.kind == AccountType.BROKERAGE,
    )


def _to_transaction(row: Row[Any], currency: str) -> Transaction:
    return Transaction(
        id=row.id,
        date=row.date,
        amount=row.amount,
        description=row.description,
        status=row.status,
        category=row.category,
        type=row.type,
        symbol=row.symbol,
        quantity=row.quantity,
        price=row.price,
        currency=currency,
    )


class SandboxProvider:
    """The sandbox institution on ``database_url`` (SQLite file or PostgreSQL), pricing with
    ``market``; ``clock`` gives the current instant (tests move it to expire day orders)."""

    name = "sandbox"
    capabilities = frozenset(
        {Capability.BALANCES, Capability.HOLDINGS, Capability.TRANSACTIONS, Capability.TRADING}
    )

    def __init__(
        self,
        database_url: str,
        market: MarketData,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database_url = database_url
        self.market = market
        self._clock = clock
        self._engine = create_engine(database_url)
        self._reader = self._engine.execution_options(**READ_ONLY)
        self._ready = False
        self._ready_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._engine.dispose()

    # --- database -----------------------------------------------------------------------------
    async def _setup(self) -> None:
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            database = make_url(self.database_url).database
            if self._engine.dialect.name == "sqlite" and database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            async with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(text(f"SELECT pg_advisory_xact_lock({_SETUP_LOCK_ID})"))
                await conn.run_sync(store.metadata.create_all)
            self._ready = True

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        await self._setup()
        async with self._reader.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        await self._setup()
        async with self._engine.begin() as conn:
            yield conn

    def _key(self, credentials: Credentials) -> str:
        code = credentials.get("code") if isinstance(credentials, dict) else None
        if not code:
            raise AccountGone(self.name, "these credentials are not a sandbox link")
        return code_key(code)

    async def _owned(
        self,
        conn: AsyncConnection,
        credentials: Credentials,
        account_id: str,
        *,
        lock: bool = False,
    ) -> Row[Any]:
        """The account, if these credentials' link (still) reaches it; else AccountGone."""
        key = self._key(credentials)
        stmt = (
            select(store.accounts)
            .join(store.links, store.links.c.key == store.accounts.c.link_key)
            .where(store.accounts.c.id == account_id, store.accounts.c.link_key == key)
        )
        if lock:
            stmt = stmt.with_for_update(of=store.accounts)
        row = (await conn.execute(stmt)).first()
        if row is None:
            raise AccountGone(self.name, f"no account {account_id} on this link")
        return row

    @staticmethod
    async def _lock_account(conn: AsyncConnection, account_id: str) -> Row[Any]:
        stmt = select(store.accounts).where(store.accounts.c.id == account_id).with_for_update()
        return (await conn.execute(stmt)).one()

    @staticmethod
    async def _position(conn: AsyncConnection, account_id: str, symbol: str) -> Row[Any] | None:
        stmt = select(store.positions).where(
            store.positions.c.account_id == account_id, store.positions.c.symbol == symbol
        )
        return (await conn.execute(stmt)).first()

    @staticmethod
    async def _order(conn: AsyncConnection, account_id: str, **where: str) -> Row[Any] | None:
        stmt = select(store.orders).where(store.orders.c.account_id == account_id)
        for column, value in where.items():
            stmt = stmt.where(store.orders.c[column] == value)
        return (await conn.execute(stmt)).first()

    # --- linking ------------------------------------------------------------------------------
    async def register(self, user_key: str) -> Identity:
        return {}

    async def connect_url(self, identity: Identity, *, redirect_url: str | None) -> str:
        raise Unsupported(self.name, "the sandbox links with a code, not through a portal")

    async def link(self, identity: Identity, auth_code: str) -> Link:
        try:
            parsed = parse_code(auth_code if isinstance(auth_code, str) else "")
        except CodeRefused as exc:
            raise LinkRefused(self.name, str(exc)) from None
        key = code_key(parsed.code)
        for attempt in range(2):
            try:
                rows = await self._link(key, parsed)
                break
            except IntegrityError:  # a concurrent link of the same code won (PostgreSQL)
                if attempt:
                    raise
        log.info("sandbox_linked", accounts=len(rows))
        return Link({"code": parsed.code}, [_to_account(row) for row in rows])

    async def _link(self, key: str, parsed: LinkCode) -> Sequence[Row[Any]]:
        listing = (
            select(store.accounts)
            .where(store.accounts.c.link_key == key)
            .order_by(store.accounts.c.id)
        )
        async with self._read() as conn:
            known = (await conn.execute(listing)).first() is not None
        now = self._clock()
        seed = None if known else generate(parsed, local_date(now))
        async with self._write() as conn:
            found = await conn.execute(select(store.links.c.key).where(store.links.c.key == key))
            if found.first() is None:
                await conn.execute(insert(store.links).values(key=key, created_at=now))
            if (await conn.execute(listing)).first() is None:
                seed = seed or generate(parsed, local_date(now))
                await conn.execute(
                    insert(store.accounts),
                    [
                        {
                            "id": item.id,
                            "link_key": key,
                            "kind": item.kind,
                            "name": item.name,
                            "mask": item.mask,
                            "currency": "USD",
                            "cash": item.balance,
                            "created_at": now,
                        }
                        for item in seed.accounts
                    ],
                )
                if seed.positions:
                    await conn.execute(
                        insert(store.positions),
                        [
                            {
                                "account_id": p.account_id,
                                "symbol": p.symbol,
                                "quantity": p.quantity,
                                "cost_basis": p.cost_basis,
                            }
                            for p in seed.positions
                        ],
                    )
                await conn.execute(
                    insert(store.transactions),
                    [
                        {
                            "id": t.id,
                            "account_id": t.account_id,
                            "seq": t.seq,
                            "date": t.date,
                            "amount": t.amount,
                            "description": t.description,
                            "status": "posted",
                            "category": t.category,
                            "type": t.type,
                            "symbol": t.symbol,
                            "quantity": t.quantity,
                            "price": t.price,
                        }
                        for t in seed.transactions
                    ],
                )
            return (await conn.execute(listing)).all()

    async def unlink(self, identity: Identity, credentials: Credentials) -> None:
        try:
            key = self._key(credentials)
        except AccountGone:
            return
        async with self._write() as conn:
            await conn.execute(delete(store.links).where(store.links.c.key == key))

    # --- reading ------------------------------------------------------------------------------
    async def accounts(self, identity: Identity, credentials: Credentials) -> list[ProviderAccount]:
        key = self._key(credentials)
        async with self._read() as conn:
            found = await conn.execute(select(store.links.c.key).where(store.links.c.key == key))
            if found.first() is None:
                raise AccountGone(self.name, "this link is gone")
            rows = await conn.execute(
                select(store.accounts)
                .where(store.accounts.c.link_key == key)
                .order_by(store.accounts.c.id)
            )
            return [_to_account(row) for row in rows]

    async def balances(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> Balances:
        async with self._read() as conn:
            account = await self._owned(conn, credentials, account_id)
            held = (
                await conn.execute(
                    select(store.positions).where(store.positions.c.account_id == account_id)
                )
            ).all()
        cash: Decimal = account.cash
        if account.kind != AccountType.BROKERAGE:
            return Balances(currency=account.currency, current=cash, available=cash)
        try:
            views = await asyncio.gather(*(self._quote(row.symbol) for row in held))
        except OrderRejected as exc:  # a held symbol the market no longer knows
            raise ProviderUnavailable(self.name, exc.reason) from exc
        value = sum(
            (money(row.quantity * view.quote.price) for row, view in zip(held, views, strict=True)),
            Decimal("0.00"),
        )
        return Balances(
            currency=account.currency,
            current=cash + value,
            available=cash,
            cash=cash,
            buying_power=cash,
        )

    async def holdings(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> list[Holding]:
        async with self._read() as conn:
            account = await self._owned(conn, credentials, account_id)
            rows = (
                await conn.execute(
                    select(store.positions)
                    .where(store.positions.c.account_id == account_id)
                    .order_by(store.positions.c.symbol)
                )
            ).all()
        views = await asyncio.gather(
            *(self._quote(row.symbol) for row in rows), return_exceptions=True
        )
        found: list[Holding] = []
        for row, view in zip(rows, views, strict=True):
            known = self.market.instrument(row.symbol)
            if isinstance(view, BaseException):
                if not isinstance(view, OrderRejected | ProviderUnavailable):
                    raise view
                price = None
            else:
                price = view.quote.price
            found.append(
                Holding(
                    symbol=row.symbol,
                    quantity=row.quantity,
                    price=price,
                    cost_basis=row.cost_basis,
                    currency=account.currency,
                    name=known.name if known else None,
                )
            )
        return found

    async def transactions(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        *,
        since: date | None = None,
    ) -> list[Transaction]:
        table = store.transactions
        async with self._read() as conn:
            account = await self._owned(conn, credentials, account_id)
            stmt = select(table).where(table.c.account_id == account_id)
            if since is not None:
                stmt = stmt.where(table.c.date >= since)
            rows = await conn.execute(stmt.order_by(table.c.date.desc(), table.c.seq.desc()))
            return [_to_transaction(row, account.currency) for row in rows]

    # --- pricing ------------------------------------------------------------------------------
    async def _quote(self, symbol: str) -> QuoteView:
        try:
            return await self.market.latest(symbol)
        except NotFound:
            raise OrderRejected(self.name, f"unknown symbol {symbol}") from None
        except ProvidersFailed as exc:
            raise ProviderUnavailable(self.name, f"no market price for {symbol} now") from exc

    def _check_kind(self, symbol: str) -> None:
        known = self.market.instrument(symbol)
        if known is not None and known.type not in TRADABLE:
            raise OrderRejected(self.name, f"{symbol} ({known.type.value}) is not tradable")

    # --- trading ------------------------------------------------------------------------------
    def _validate(self, order: OrderRequest) -> _Request:
        try:
            symbol = normalize_symbol(order.symbol)
        except (ValueError, AttributeError):
            raise OrderRejected(self.name, "invalid symbol") from None
        if not order.client_order_id or len(order.client_order_id) > 200:
            raise OrderRejected(self.name, "client_order_id must be 1-200 characters")
        try:
            action = OrderAction(order.action)
            kind = OrderType(order.order_type)
            tif = TimeInForce(order.time_in_force)
        except ValueError as exc:
            raise OrderRejected(self.name, str(exc)) from None
        try:
            quantity = _positive(self.name, order.quantity, "quantity")
            limit = stop = None
            if kind in _LIMITED:
                limit = _positive(self.name, order.limit_price, "limit_price")
            elif order.limit_price is not None:
                raise OrderRejected(self.name, f"{kind.value} orders take no limit_price")
            if kind in _STOPPED:
                stop = _positive(self.name, order.stop_price, "stop_price")
            elif order.stop_price is not None:
                raise OrderRejected(self.name, f"{kind.value} orders take no stop_price")
        except InvalidOperation:
            raise OrderRejected(self.name, "prices and quantities need at most 28 digits") from None
        return _Request(
            order.account_id,
            order.client_order_id,
            symbol,
            action,
            quantity,
            kind,
            tif,
            limit,
            stop,
        )

    async def place_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> Order:
        request = self._validate(order)
        async with self._read() as conn:
            account = await self._owned(conn, credentials, request.account_id)
            existing = await self._order(conn, account.id, client_order_id=request.client_order_id)
        if existing is not None:
            return await self._settle(existing)
        if account.kind != AccountType.BROKERAGE:
            raise OrderRejected(self.name, f"the {account.kind} account does not trade")
        self._check_kind(request.symbol)
        view = await self._quote(request.symbol)
        if view.quote.currency != account.currency:
            raise OrderRejected(self.name, f"only {account.currency} instruments trade here")
        price = view.quote.price
        now = self._clock()
        order_id = f"sbx_ord_{uuid.uuid4().hex}"
        async with self._write() as conn:
            account = await self._owned(conn, credentials, request.account_id, lock=True)
            existing = await self._order(conn, account.id, client_order_id=request.client_order_id)
            if existing is not None:
                return _to_order(existing)
            position = await self._position(conn, account.id, request.symbol)
            held: Decimal = position.quantity if position else Decimal(0)
            self._precheck(request, price, account.cash, held)
            await conn.execute(
                insert(store.orders).values(
                    id=order_id,
                    account_id=account.id,
                    client_order_id=request.client_order_id,
                    symbol=request.symbol,
                    action=request.action.value,
                    quantity=request.quantity,
                    order_type=request.order_type.value,
                    time_in_force=request.time_in_force.value,
                    limit_price=request.limit_price,
                    stop_price=request.stop_price,
                    status=OrderStatus.SUBMITTED.value,
                    triggered=False,
                    trading_day=local_date(now),
                    filled_quantity=Decimal(0),
                    placed_at=now,
                    updated_at=now,
                )
            )
            row = await self._order(conn, account.id, id=order_id)
            assert row is not None
            decision = _decide(row, price, now, account.cash, held, immediate=True)
            if decision.status is OrderStatus.REJECTED:
                raise OrderRejected(self.name, decision.reason or "rejected")
            placed = await self._apply(conn, account, position, row, decision, now)
        log.info("sandbox_order", order_id=order_id, status=placed.status)
        return _to_order(placed)

    def _precheck(self, request: _Request, price: Decimal, cash: Decimal, held: Decimal) -> None:
        if request.action is OrderAction.SELL:
            if request.quantity > held:
                raise OrderRejected(self.name, "insufficient position")
            return
        at = request.limit_price if request.limit_price is not None else price
        if money(request.quantity * at) > cash:
            raise OrderRejected(self.name, "insufficient buying power")

    async def _apply(
        self,
        conn: AsyncConnection,
        account: Row[Any],
        position: Row[Any] | None,
        order: Row[Any],
        decision: _Decision,
        now: datetime,
    ) -> Row[Any]:
        """Write ``decision`` (and a fill's cash, position and transaction) in ``conn``."""
        if decision.status is OrderStatus.SUBMITTED and decision.triggered == order.triggered:
            return order
        values: dict[str, Any] = {
            "status": decision.status.value,
            "triggered": decision.triggered,
            "updated_at": now,
        }
        if decision.reason is not None:
            values["reason"] = decision.reason
        if decision.status is OrderStatus.FILLED:
            assert decision.price is not None
            assert decision.value is not None
            await self._fill(conn, account, position, order, decision.price, decision.value, now)
            values.update(filled_quantity=order.quantity, average_price=decision.price)
            values["filled_at"] = now
        await conn.execute(update(store.orders).where(store.orders.c.id == order.id).values(values))
        row = await self._order(conn, account.id, id=order.id)
        assert row is not None
        return row

    async def _fill(
        self,
        conn: AsyncConnection,
        account: Row[Any],
        position: Row[Any] | None,
        order: Row[Any],
        price: Decimal,
        value: Decimal,
        now: datetime,
    ) -> None:
        quantity: Decimal = order.quantity
        buy = order.action == OrderAction.BUY
        cash: Decimal = account.cash - value if buy else account.cash + value
        if cash < 0:  # _decide checked; never write a negative balance whatever happens
            raise RuntimeError("sandbox fill would overdraw the account")
        await conn.execute(
            update(store.accounts).where(store.accounts.c.id == account.id).values(cash=cash)
        )
        where = (store.positions.c.account_id == account.id) & (
            store.positions.c.symbol == order.symbol
        )
        if buy and position is None:
            await conn.execute(
                insert(store.positions).values(
                    account_id=account.id,
                    symbol=order.symbol,
                    quantity=quantity,
                    cost_basis=value,
                )
            )
        elif buy:
            assert position is not None
            await conn.execute(
                update(store.positions)
                .where(where)
                .values(
                    quantity=position.quantity + quantity, cost_basis=position.cost_basis + value
                )
            )
        else:
            assert position is not None
            left: Decimal = position.quantity - quantity
            if left == 0:
                await conn.execute(delete(store.positions).where(where))
            else:
                basis = position.cost_basis - money(
                    position.cost_basis * quantity / position.quantity
                )
                await conn.execute(
                    update(store.positions).where(where).values(quantity=left, cost_basis=basis)
                )
        last = await conn.execute(
            select(func.max(store.transactions.c.seq)).where(
                store.transactions.c.account_id == account.id
            )
        )
        seq = (last.scalar() or 0) + 1
        verb = "Bought" if buy else "Sold"
        await conn.execute(
            insert(store.transactions).values(
                id=f"{order.id}_fill",
                account_id=account.id,
                seq=seq,
                date=local_date(now),
                amount=-value if buy else value,
                description=f"{verb} {quantity} {order.symbol} @ {price}",
                status="posted",
                category="investment",
                type=order.action,
                symbol=order.symbol,
                quantity=quantity,
                price=price,
            )
        )

    async def _settle(self, order: Row[Any]) -> Order:
        """Evaluate an open order at the current price (see the module's rules)."""
        if OrderStatus(order.status).final:
            return _to_order(order)
        now = self._clock()
        price: Decimal | None = None
        rejection: str | None = None
        if not _expired(order, now):
            try:
                price = (await self._quote(order.symbol)).quote.price
            except OrderRejected as exc:
                rejection = exc.reason
            except ProviderUnavailable:
                log.info("sandbox_order_unpriced", order_id=order.id, symbol=order.symbol)
        settled, _ = await self._evaluate(order.account_id, order.id, price, now, rejection)
        return _to_order(settled)

    async def _evaluate(
        self,
        account_id: str,
        order_id: str,
        price: Decimal | None,
        now: datetime,
        rejection: str | None = None,
    ) -> tuple[Row[Any], bool]:
        """Decide and write what an open order does at ``price``; (the order, whether it
        changed)."""
        async with self._write() as conn:
            account = await self._lock_account(conn, account_id)
            order = await self._order(conn, account_id, id=order_id)
            assert order is not None
            if OrderStatus(order.status).final:
                return order, False
            position = await self._position(conn, account_id, order.symbol)
            held: Decimal = position.quantity if position else Decimal(0)
            if rejection is not None and not _expired(order, now):
                decision = _Decision(OrderStatus.REJECTED, bool(order.triggered), reason=rejection)
            else:
                decision = _decide(order, price, now, account.cash, held, immediate=False)
            row = await self._apply(conn, account, position, order, decision, now)
            return row, row is not order

    async def match_open_orders(self, account_id: str | None = None) -> list[Order]:
        """Evaluate every open order (of one account, or all), oldest first, at the current
        prices; returns the orders that changed (filled, triggered, rejected, expired)."""
        table = store.orders
        stmt = select(table).where(table.c.status == OrderStatus.SUBMITTED.value)
        if account_id is not None:
            stmt = stmt.where(table.c.account_id == account_id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt.order_by(table.c.placed_at, table.c.id))).all()
        now = self._clock()
        prices: dict[str, Decimal | str | None] = {}
        for symbol in dict.fromkeys(row.symbol for row in rows):
            try:
                prices[symbol] = (await self._quote(symbol)).quote.price
            except OrderRejected as exc:
                prices[symbol] = exc.reason
            except ProviderUnavailable:
                prices[symbol] = None
        changed: list[Order] = []
        for row in rows:
            price = prices[row.symbol]
            if isinstance(price, str):
                settled, moved = await self._evaluate(row.account_id, row.id, None, now, price)
            else:
                settled, moved = await self._evaluate(row.account_id, row.id, price, now)
            if moved:
                changed.append(_to_order(settled))
        return changed

    async def find_order(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        client_order_id: str,
        *,
        request: OrderRequest | None = None,
    ) -> Order | None:
        async with self._read() as conn:
            account = await self._owned(conn, credentials, account_id)
            row = await self._order(conn, account.id, client_order_id=client_order_id)
        return None if row is None else await self._settle(row)

    async def get_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        async with self._read() as conn:
            account = await self._owned(conn, credentials, account_id)
            row = await self._order(conn, account.id, id=provider_order_id)
        if row is None:
            raise OrderRejected(self.name, "unknown order")
        return await self._settle(row)

    async def cancel_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        async with self._read() as conn:
            account = await self._owned(conn, credentials, account_id)
            row = await self._order(conn, account.id, id=provider_order_id)
        if row is None:
            raise OrderRejected(self.name, "unknown order")
        if OrderStatus(row.status).final:
            return _to_order(row)
        now = self._clock()
        async with self._write() as conn:
            locked = await self._lock_account(conn, account_id)
            current = await self._order(conn, account_id, id=provider_order_id)
            assert current is not None
            if OrderStatus(current.status).final:
                return _to_order(current)
            if _expired(current, now):
                decision = _Decision(
                    OrderStatus.EXPIRED,
                    bool(current.triggered),
                    reason="day order expired unfilled",
                )
            else:
                decision = _Decision(
                    OrderStatus.CANCELED, bool(current.triggered), reason="canceled by request"
                )
            canceled = await self._apply(conn, locked, None, current, decision, now)
        return _to_order(canceled)
