"""`SandboxProvider`: the sandbox institution behind the `AccountProvider` Protocol. It holds
the database, the market and the clock, and hands each operation to the module that owns it
(`accounts`, `matching`, `orders`, `pricing`, all over `store`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Row, delete
from sqlalchemy.exc import IntegrityError

from flint.brokerage.sandbox import accounts, orders, store
from flint.brokerage.sandbox.data import CodeRefused, code_key, parse_code
from flint.brokerage.sandbox.estimates import estimate
from flint.brokerage.sandbox.matching import (
    Request,
    expired,
    held_back,
    held_reason,
    open_now,
    order_session,
    session_of,
    validate,
)
from flint.brokerage.sandbox.pricing import (
    calendar_of,
    check_kind,
    opening_price,
    prices_now,
    quote,
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
    OrderPreview,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    ProviderAccount,
    Transaction,
    Unsupported,
)
from flint.kit.calendar import CRYPTO, local_date
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderUnavailable
from flint.market.api import MarketData, QuoteView

log = structlog.get_logger(__name__)


def _wall_clock() -> datetime:
    return utcnow()  # looked up at each call (a test may set the module's clock)


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
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.database_url = database_url
        self.market = market
        self._clock = clock or _wall_clock
        self._db = store.Database(database_url)

    def _today(self) -> date:
        """The bank's business day: the date in New York."""
        return local_date(self._clock())

    async def aclose(self) -> None:
        await self._db.dispose()

    # --- linking ------------------------------------------------------------------------------
    async def register(self, user_key: str) -> Identity:
        return {}

    async def deregister(self, identity: Identity) -> None:
        return None  # no users here: `register` made none

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
                rows = await accounts.open_accounts(
                    self._db, self.name, self.market, key, parsed, self._clock
                )
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
        return await accounts.balances(
            self._db, self.name, self.market, credentials, account_id, self._today()
        )

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
        return await accounts.transactions(
            self._db, self.name, credentials, account_id, since, self._today()
        )

    # --- trading ------------------------------------------------------------------------------
    async def _quote(self, symbol: str) -> QuoteView:
        return await quote(self.name, self.market, symbol)

    def _validate(self, order: OrderRequest) -> Request:
        """`validate`, with the symbol as the market names it: a broker trades an instrument
        however its ticker is spelt, so ``BRK.B`` sells what ``BRK-B`` bought."""
        request = validate(self.name, order)
        known = self.market.instrument(request.symbol)
        if known is None or known.symbol == request.symbol:
            return request
        return replace(request, symbol=known.symbol)

    async def place_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> Order:
        request = self._validate(order)
        async with self._db.read() as conn:
            account = await accounts.owned(conn, self.name, credentials, request.account_id)
            existing = await store.order_row(
                conn, account.id, client_order_id=request.client_order_id
            )
            working = await store.open_orders(conn, account.id)
        if existing is not None:
            return await self._settle(existing)
        price = await self._trade_price(account, request.symbol)
        prices = await prices_now(self.name, self.market, working)
        now = self._clock()
        order_id = f"sbx_ord_{uuid.uuid4().hex}"
        calendar = await self._calendar(request.account_id, request.symbol)
        return await orders.place(
            self._db, self.name, credentials, request, order_id, price, now, calendar, prices
        )

    async def preview_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> OrderPreview:
        """What placing ``order`` now would do, by the placing rules (see `estimates`)."""
        request = self._validate(order)
        async with self._db.read() as conn:
            account = await accounts.owned(conn, self.name, credentials, request.account_id)
            position = await store.position_row(conn, account.id, request.symbol)
            terms = await store.terms_of(conn, request.account_id)
            working = await store.open_orders(conn, account.id)
        price = await self._trade_price(account, request.symbol)
        prices = await prices_now(self.name, self.market, working)
        back = held_back(working, {**prices, request.symbol: price}, terms)
        held: Decimal = position.quantity if position else Decimal(0)
        held -= back.units.get(request.symbol, Decimal(0))
        calendar = CRYPTO if terms.always_open else calendar_of(self.market, request.symbol)
        now = self._clock()
        closed = (
            None if open_now(now, calendar) else held_reason(order_session(now, calendar), calendar)
        )
        return estimate(self.name, request, price, account.cash - back.cash, held, terms, closed)

    async def _trade_price(self, account: Row[Any], symbol: str) -> Decimal:
        """The price ``symbol`` trades at in ``account``; OrderRejected when it cannot trade."""
        if account.kind != AccountType.BROKERAGE:
            raise OrderRejected(self.name, f"the {account.kind} account does not trade")
        check_kind(self.name, self.market, symbol)
        view = await self._quote(symbol)
        if view.quote.currency != account.currency:
            raise OrderRejected(self.name, f"only {account.currency} instruments trade here")
        return view.quote.price

    async def _calendar(self, account_id: str, symbol: str) -> str:
        """The hours ``symbol`` trades at here: its market's, or always (``always-open``)."""
        async with self._db.read() as conn:
            terms = await store.terms_of(conn, account_id)
        return CRYPTO if terms.always_open else calendar_of(self.market, symbol)

    async def _price(self, order: Row[Any], now: datetime, calendar: str) -> Decimal | None:
        """The price an open order is evaluated at now: none while it is held or once a day
        order is past its session, the session's opening price for a held market order, the
        current price otherwise. OrderRejected when the market no longer knows the symbol."""
        opens = session_of(order.trading_day, calendar)
        if now < opens.open:
            return None
        if order.order_type == OrderType.MARKET and order.placed_at < opens.open:
            return await opening_price(self.name, self.market, order.symbol, opens)
        if expired(order, now, calendar):
            return None
        return (await self._quote(order.symbol)).quote.price

    async def _evaluate(self, order: Row[Any]) -> tuple[Order, bool]:
        """Evaluate an open order now (see the package's rules); (the order, whether it
        changed)."""
        if OrderStatus(order.status).final:
            async with self._db.read() as conn:
                terms = await store.terms_of(conn, order.account_id)
            return orders.to_order(order, terms.commission), False
        now = self._clock()
        calendar = await self._calendar(order.account_id, order.symbol)
        price: Decimal | None = None
        rejection: str | None = None
        try:
            price = await self._price(order, now, calendar)
        except OrderRejected as exc:
            rejection = exc.reason
        except ProviderUnavailable:
            log.info("sandbox_order_unpriced", order_id=order.id, symbol=order.symbol)
        return await orders.evaluate(
            self._db, order.account_id, order.id, price, now, calendar, rejection
        )

    async def _settle(self, order: Row[Any]) -> Order:
        settled, _ = await self._evaluate(order)
        return settled

    async def match_open_orders(self, account_id: str | None = None) -> list[Order]:
        """Evaluate every open order (of one account, or all), oldest first, at the current
        prices; returns the orders that changed (filled, triggered, rejected, expired)."""
        async with self._db.read() as conn:
            rows = await store.open_orders(conn, account_id)
        changed: list[Order] = []
        for row in rows:
            settled, moved = await self._evaluate(row)
            if moved:
                changed.append(settled)
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
        if row.order_type == OrderType.MARKET:  # one whose session has opened has filled
            current, _ = await self._evaluate(row)
            if current.status.final:
                return current
        calendar = await self._calendar(account_id, row.symbol)
        return await orders.cancel(self._db, account_id, provider_order_id, self._clock(), calendar)
