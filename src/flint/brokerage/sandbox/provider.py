"""`SandboxProvider`: the sandbox institution behind the `AccountProvider` Protocol. It holds
the database, the market and the clock, and hands each operation to the module that owns it
(`accounts`, `matching`, `orders`, `pricing`, all over `store`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Row, delete, select
from sqlalchemy.exc import IntegrityError

from flint.brokerage.sandbox import accounts, orders, store
from flint.brokerage.sandbox.data import CodeRefused, code_key, parse_code
from flint.brokerage.sandbox.estimates import estimate
from flint.brokerage.sandbox.matching import expired, validate
from flint.brokerage.sandbox.pricing import check_kind, quote
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
    OrderPreview,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    ProviderAccount,
    Transaction,
    Unsupported,
)
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderUnavailable
from flint.market.api import MarketData, QuoteView

log = structlog.get_logger(__name__)


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
        self._db = store.Database(database_url)

    async def aclose(self) -> None:
        await self._db.dispose()

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
                rows = await accounts.open_accounts(self._db, key, parsed, self._clock)
                break
            except IntegrityError:  # a concurrent link of the same code won (PostgreSQL)
                if attempt:
                    raise
        log.info("sandbox_linked", accounts=len(rows))
        return Link({"code": parsed.code}, [accounts.to_account(row) for row in rows])

    async def unlink(self, identity: Identity, credentials: Credentials) -> None:
        try:
            key = accounts.link_key(self.name, credentials)
        except AccountGone:
            return
        async with self._db.write() as conn:
            await conn.execute(delete(store.links).where(store.links.c.key == key))

    # --- reading ------------------------------------------------------------------------------
    async def accounts(self, identity: Identity, credentials: Credentials) -> list[ProviderAccount]:
        key = accounts.link_key(self.name, credentials)
        return await accounts.listed(self._db, self.name, key)

    async def balances(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> Balances:
        return await accounts.balances(self._db, self.name, self.market, credentials, account_id)

    async def holdings(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> list[Holding]:
        return await accounts.holdings(self._db, self.name, self.market, credentials, account_id)

    async def transactions(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        *,
        since: date | None = None,
    ) -> list[Transaction]:
        return await accounts.transactions(self._db, self.name, credentials, account_id, since)

    # --- trading ------------------------------------------------------------------------------
    async def _quote(self, symbol: str) -> QuoteView:
        return await quote(self.name, self.market, symbol)

    async def place_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> Order:
        request = validate(self.name, order)
        async with self._db.read() as conn:
            account = await accounts.owned(conn, self.name, credentials, request.account_id)
            existing = await store.order_row(
                conn, account.id, client_order_id=request.client_order_id
            )
        if existing is not None:
            return await self._settle(existing)
        price = await self._price(account, request.symbol)
        now = self._clock()
        order_id = f"sbx_ord_{uuid.uuid4().hex}"
        return await orders.place(self._db, self.name, credentials, request, order_id, price, now)

    async def preview_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> OrderPreview:
        """What placing ``order`` now would do, by the placing rules (see `estimates`)."""
        request = validate(self.name, order)
        async with self._db.read() as conn:
            account = await accounts.owned(conn, self.name, credentials, request.account_id)
            position = await store.position_row(conn, account.id, request.symbol)
        price = await self._price(account, request.symbol)
        held: Decimal = position.quantity if position else Decimal(0)
        return estimate(self.name, request, price, account.cash, held)

    async def _price(self, account: Row[Any], symbol: str) -> Decimal:
        """The price ``symbol`` trades at in ``account``; OrderRejected when it cannot trade."""
        if account.kind != AccountType.BROKERAGE:
            raise OrderRejected(self.name, f"the {account.kind} account does not trade")
        check_kind(self.name, self.market, symbol)
        view = await self._quote(symbol)
        if view.quote.currency != account.currency:
            raise OrderRejected(self.name, f"only {account.currency} instruments trade here")
        return view.quote.price

    async def _settle(self, order: Row[Any]) -> Order:
        """Evaluate an open order at the current price (see the package's rules)."""
        if OrderStatus(order.status).final:
            return orders.to_order(order)
        now = self._clock()
        price: Decimal | None = None
        rejection: str | None = None
        if not expired(order, now):
            try:
                price = (await self._quote(order.symbol)).quote.price
            except OrderRejected as exc:
                rejection = exc.reason
            except ProviderUnavailable:
                log.info("sandbox_order_unpriced", order_id=order.id, symbol=order.symbol)
        settled, _ = await orders.evaluate(
            self._db, order.account_id, order.id, price, now, rejection
        )
        return orders.to_order(settled)

    async def match_open_orders(self, account_id: str | None = None) -> list[Order]:
        """Evaluate every open order (of one account, or all), oldest first, at the current
        prices; returns the orders that changed (filled, triggered, rejected, expired)."""
        table = store.orders
        stmt = select(table).where(table.c.status == OrderStatus.SUBMITTED.value)
        if account_id is not None:
            stmt = stmt.where(table.c.account_id == account_id)
        async with self._db.read() as conn:
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
                settled, moved = await orders.evaluate(
                    self._db, row.account_id, row.id, None, now, price
                )
            else:
                settled, moved = await orders.evaluate(self._db, row.account_id, row.id, price, now)
            if moved:
                changed.append(orders.to_order(settled))
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
        async with self._db.read() as conn:
            account = await accounts.owned(conn, self.name, credentials, account_id)
            row = await store.order_row(conn, account.id, client_order_id=client_order_id)
        return None if row is None else await self._settle(row)

    async def get_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        async with self._db.read() as conn:
            account = await accounts.owned(conn, self.name, credentials, account_id)
            row = await store.order_row(conn, account.id, id=provider_order_id)
        if row is None:
            raise OrderRejected(self.name, "unknown order")
        return await self._settle(row)

    async def cancel_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        async with self._db.read() as conn:
            account = await accounts.owned(conn, self.name, credentials, account_id)
            row = await store.order_row(conn, account.id, id=provider_order_id)
        if row is None:
            raise OrderRejected(self.name, "unknown order")
        if OrderStatus(row.status).final:
            return orders.to_order(row)
        return await orders.cancel(self._db, account_id, provider_order_id, self._clock())
