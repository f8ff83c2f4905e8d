"""Trades: refused before anything is sent when they cannot work, then submitted by a worker
exactly once, and followed to a final state.

Guarantees, and what makes them hold:

* Never lost: the trade row (``pending``) is committed before its job is published (after the
  commit); the job is acked late and re-queued when its worker dies, and a periodic sweep
  re-publishes trades left ``pending`` (a publish that failed, a broker that lost it).
* Never doubled: the provider gets Flint's ``client_order_id`` (the trade's id). Before
  placing, the worker asks the provider for an order with that id and records it instead of
  placing another; a placement that failed in transit is never blindly retried (a retry starts
  over with that question). The worker holds the trade row's lock (``FOR UPDATE``) while it
  submits, so two deliveries of one job cannot both place.
* Audited: every change appends a `TradeEvent`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.accounts import service as accounts
from flint.accounts.models import AccountLink, LinkedAccount
from flint.brokerage.types import (
    AccountGone,
    AccountProvider,
    AccountProviderError,
    Capability,
    Credentials,
    Identity,
    Order,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from flint.db import after_commit
from flint.errors import NotFound, ServiceUnavailable, ValidationFailed
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderError
from flint.market.service import MarketData
from flint.notifications.kinds import NotificationKind
from flint.notifications.service import notify
from flint.trades.models import Trade, TradeEvent
from flint.trades.schemas import ExecuteTrade

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TradingContext:
    accounts: accounts.Accounts
    market: MarketData


async def _provider_for(
    session: AsyncSession, ctx: TradingContext, account: LinkedAccount
) -> tuple[AccountProvider, Identity, Credentials]:
    record = await session.get(AccountLink, account.link_id)
    if record is None:
        raise AccountGone(account.provider, "the account is no longer linked")
    return await accounts.credentials_for(session, ctx.accounts, record, field="body.accountId")


async def check(
    session: AsyncSession, ctx: TradingContext, user_id: uuid.UUID, body: ExecuteTrade
) -> LinkedAccount:
    """Everything that can be known before sending: the account can trade, the symbol exists,
    buying power covers a buy, the position covers a sale. 404 for another user's account."""
    account = await accounts.get_account(session, user_id, body.account_id)
    if not account.can_trade:
        raise ValidationFailed.at(
            "body.accountId", f"The {account.type} account {account.name!r} cannot trade."
        )
    try:
        provider, identity, credentials = await _provider_for(session, ctx, account)
    except AccountGone as exc:
        raise ValidationFailed.at(
            "body.accountId", f"The account cannot trade: {exc.reason}."
        ) from exc
    if Capability.TRADING not in provider.capabilities:
        raise ValidationFailed.at("body.accountId", f"{account.provider} accounts cannot trade.")
    if ctx.market.instrument(body.asset) is None:
        raise ValidationFailed.at("body.asset", f"Unknown symbol {body.asset}.")
    try:
        price = (await ctx.market.latest(body.asset)).quote.price
        remote = account.provider_account_id
        if body.action is OrderAction.BUY:
            balances = await provider.balances(identity, credentials, remote)
            power = balances.buying_power if balances.buying_power is not None else balances.cash
            at = body.limit_price if body.limit_price is not None else price
            cost = body.quantity * at
            if power is not None and cost > power:
                raise ValidationFailed.at(
                    "body.quantity",
                    f"Buying {body.quantity} {body.asset} needs about {cost:.2f} "
                    f"{account.currency}; buying power is {power:.2f}.",
                )
        else:
            held = sum(
                (
                    h.quantity
                    for h in await provider.holdings(identity, credentials, remote)
                    if h.symbol == body.asset
                ),
                Decimal(0),
            )
            if body.quantity > held:
                raise ValidationFailed.at(
                    "body.quantity",
                    f"Cannot sell {body.quantity} {body.asset}: the account holds {held}.",
                )
    except NotFound as exc:
        raise ValidationFailed.at("body.asset", f"Unknown symbol {body.asset}.") from exc
    except AccountGone as exc:
        raise ValidationFailed.at(
            "body.accountId", f"The account cannot trade: {exc.reason}."
        ) from exc
    except ProviderError as exc:
        raise ServiceUnavailable(
            f"{account.provider} is unavailable right now ({exc.reason}); try again."
        ) from exc
    return account


def _event(session: AsyncSession, trade: Trade, status: str, **detail: Any) -> None:
    session.add(TradeEvent(trade_id=trade.id, status=status, detail=detail))


async def create(
    session: AsyncSession, user_id: uuid.UUID, account: LinkedAccount, body: ExecuteTrade
) -> Trade:
    trade_id = uuid.uuid4()
    trade = Trade(
        id=trade_id,
        user_id=user_id,
        account_id=account.id,
        symbol=body.asset,
        action=body.action.value,
        quantity=body.quantity,
        order_type=body.order_type.value,
        time_in_force=body.time_in_force.value,
        limit_price=body.limit_price,
        stop_price=body.stop_price,
        status=OrderStatus.PENDING.value,
        client_order_id=str(trade_id),
        filled_quantity=Decimal(0),
        fees=Decimal(0),
    )
    session.add(trade)
    await session.flush()
    _event(session, trade, "pending", source="api")
    await session.flush()
    return trade


def _request(trade: Trade, account: LinkedAccount) -> OrderRequest:
    return OrderRequest(
        account_id=account.provider_account_id,
        client_order_id=trade.client_order_id,
        symbol=trade.symbol,
        action=OrderAction(trade.action),
        quantity=trade.quantity,
        order_type=OrderType(trade.order_type),
        time_in_force=TimeInForce(trade.time_in_force),
        limit_price=trade.limit_price,
        stop_price=trade.stop_price,
        not_before=trade.created_at,
    )


def _apply(session: AsyncSession, trade: Trade, order: Order, source: str) -> bool:
    """Copy the provider's view onto the trade; returns whether anything changed."""
    now = utcnow()
    changed = (
        trade.status != order.status.value
        or trade.filled_quantity != order.filled_quantity
        or trade.provider_order_id != order.provider_order_id
    )
    trade.provider_order_id = order.provider_order_id
    trade.status = order.status.value
    trade.filled_quantity = order.filled_quantity
    trade.average_price = order.average_price
    trade.fees = order.fees
    trade.reason = order.reason
    trade.submitted_at = trade.submitted_at or order.placed_at or now
    if order.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED):
        trade.executed_at = order.filled_at or order.updated_at or now
    trade.updated_at = now
    if changed:
        _event(
            session,
            trade,
            order.status.value,
            source=source,
            providerOrderId=order.provider_order_id,
            providerStatus=order.raw_status,
            filledQuantity=str(order.filled_quantity),
            averagePrice=str(order.average_price) if order.average_price is not None else None,
            reason=order.reason,
        )
    return changed


def _end(session: AsyncSession, trade: Trade, status: OrderStatus, reason: str) -> None:
    trade.status = status.value
    trade.reason = reason[:500]
    trade.updated_at = utcnow()
    _event(session, trade, status.value, reason=reason)


NOTIFY = {OrderStatus.FILLED.value, OrderStatus.REJECTED.value}


FILLS = {OrderStatus.FILLED.value, OrderStatus.PARTIALLY_FILLED.value}


async def _notify(session: AsyncSession, trade: Trade, before: str) -> None:
    """A trade that just filled or was rejected tells its owner (in the app, and by email or
    SMS as their preferences say); a fill also re-syncs the account, so its balances and
    holdings show the trade."""
    if trade.status == before:
        return
    if trade.status in FILLS:
        account = await session.get(LinkedAccount, trade.account_id)
        if account is not None:
            link_id = account.link_id

            async def _resync() -> None:
                from flint.accounts.tasks import enqueue_sync

                await enqueue_sync(link_id)

            after_commit(session, _resync)
    if trade.status not in NOTIFY:
        return
    verb = "bought" if trade.action == "buy" else "sold"
    if trade.status == OrderStatus.FILLED.value:
        title = f"Filled: {verb} {trade.filled_quantity} {trade.symbol}"
        body = (
            f"Your {trade.order_type} order to {trade.action} {trade.quantity} {trade.symbol} "
            f"filled: {trade.filled_quantity} at {trade.average_price}.\n\nTrade {trade.id}"
        )
    else:
        title = f"Rejected: {trade.action} {trade.quantity} {trade.symbol}"
        body = (
            f"Your order to {trade.action} {trade.quantity} {trade.symbol} was rejected: "
            f"{trade.reason}.\n\nTrade {trade.id}"
        )
    await notify(
        session,
        user_id=trade.user_id,
        kind=NotificationKind.TRADE,
        title=title,
        body=body,
        data={"tradeId": str(trade.id), "symbol": trade.symbol, "status": trade.status},
    )


async def _locked(session: AsyncSession, trade_id: uuid.UUID) -> Trade | None:
    dialect = session.bind.dialect.name if session.bind is not None else ""
    stmt = select(Trade).where(Trade.id == trade_id).execution_options(populate_existing=True)
    if dialect == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def submit(session: AsyncSession, ctx: TradingContext, trade_id: uuid.UUID) -> str:
    """Get the trade to the provider exactly once; returns its status. Transient provider
    failures raise (the task retries; the next attempt asks the provider first)."""
    trade = await _locked(session, trade_id)
    if trade is None:
        return "missing"
    if trade.status != OrderStatus.PENDING.value:
        return trade.status
    account = await session.get(LinkedAccount, trade.account_id)
    assert account is not None
    before = trade.status
    trade.attempts += 1
    try:
        provider, identity, credentials = await _provider_for(session, ctx, account)
        request = _request(trade, account)
        existing = await provider.find_order(
            identity,
            credentials,
            account.provider_account_id,
            trade.client_order_id,
            request=request,
        )
        if existing is not None:
            log.info("trade_found_at_provider", trade_id=str(trade.id))
            _apply(session, trade, existing, "recovered")
        else:
            order = await provider.place_order(identity, credentials, request)
            _apply(session, trade, order, "placed")
    except OrderRejected as exc:
        _end(session, trade, OrderStatus.REJECTED, exc.reason)
    except AccountProviderError as exc:  # gone, unsupported: nothing will make it work
        _end(session, trade, OrderStatus.REJECTED, exc.reason)
    await _notify(session, trade, before)
    await session.flush()
    return trade.status


async def give_up(session: AsyncSession, trade_id: uuid.UUID, reason: str) -> None:
    """After the last retry: the trade ends ``failed`` unless it moved on meanwhile."""
    trade = await _locked(session, trade_id)
    if trade is not None and trade.status == OrderStatus.PENDING.value:
        _end(session, trade, OrderStatus.FAILED, reason)
        await session.flush()


async def refresh(session: AsyncSession, ctx: TradingContext, trade_id: uuid.UUID) -> str:
    """Ask the provider how an open order stands and record it; returns the status."""
    trade = await _locked(session, trade_id)
    if trade is None or OrderStatus(trade.status).final or trade.provider_order_id is None:
        return trade.status if trade else "missing"
    account = await session.get(LinkedAccount, trade.account_id)
    assert account is not None
    try:
        provider, identity, credentials = await _provider_for(session, ctx, account)
        order = await provider.get_order(
            identity, credentials, account.provider_account_id, trade.provider_order_id
        )
    except AccountProviderError as exc:
        log.warning("trade_refresh_failed", trade_id=str(trade.id), reason=exc.reason)
        return trade.status
    before = trade.status
    _apply(session, trade, order, "refreshed")
    await _notify(session, trade, before)
    await session.flush()
    return trade.status


async def cancel(
    session: AsyncSession, ctx: TradingContext, user_id: uuid.UUID, trade_id: uuid.UUID
) -> Trade:
    trade = await get(session, user_id, trade_id)
    if OrderStatus(trade.status).final:
        raise ValidationFailed.at("path.tradeId", f"The trade is already {trade.status}.")
    if trade.provider_order_id is None:
        # Not at the provider yet: holding the row lock keeps the worker from placing it.
        locked = await _locked(session, trade.id)
        assert locked is not None
        if locked.provider_order_id is None and locked.status == OrderStatus.PENDING.value:
            _end(session, locked, OrderStatus.CANCELED, "canceled before it was sent")
            await session.flush()
            return locked
    account = await session.get(LinkedAccount, trade.account_id)
    assert account is not None
    assert trade.provider_order_id is not None
    try:
        provider, identity, credentials = await _provider_for(session, ctx, account)
        order = await provider.cancel_order(
            identity, credentials, account.provider_account_id, trade.provider_order_id
        )
    except AccountProviderError as exc:
        raise ValidationFailed.at(
            "path.tradeId", f"The order could not be canceled: {exc.reason}."
        ) from exc
    except ProviderError as exc:
        raise ServiceUnavailable(f"The provider is unavailable ({exc.reason}); try again.") from exc
    _apply(session, trade, order, "cancel")
    await session.flush()
    return trade


async def get(session: AsyncSession, user_id: uuid.UUID, trade_id: uuid.UUID) -> Trade:
    trade = await session.get(Trade, trade_id)
    if trade is None or trade.user_id != user_id:
        raise NotFound(f"No trade {trade_id}.")
    return trade


async def list_trades(
    session: AsyncSession,
    user_id: uuid.UUID,
    account_id: uuid.UUID | None,
    status: str | None,
    limit: int,
) -> list[Trade]:
    stmt = select(Trade).where(Trade.user_id == user_id)
    if account_id is not None:
        stmt = stmt.where(Trade.account_id == account_id)
    if status is not None:
        stmt = stmt.where(Trade.status == status)
    stmt = stmt.order_by(Trade.created_at.desc(), Trade.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def events(session: AsyncSession, trade: Trade) -> list[TradeEvent]:
    stmt = (
        select(TradeEvent)
        .where(TradeEvent.trade_id == trade.id)
        .order_by(TradeEvent.created_at, TradeEvent.id)
    )
    return list((await session.execute(stmt)).scalars())


async def stale(session: AsyncSession, older_than: timedelta) -> list[uuid.UUID]:
    """Pending trades nobody picked up (a lost publish): for the sweep to publish again."""
    cutoff = utcnow() - older_than
    stmt = select(Trade.id).where(Trade.status == "pending", Trade.updated_at < cutoff)
    return list((await session.execute(stmt)).scalars())


async def open_trades(session: AsyncSession) -> list[uuid.UUID]:
    stmt = select(Trade.id).where(
        Trade.status.in_(["submitted", "partially_filled"]), Trade.provider_order_id.is_not(None)
    )
    return list((await session.execute(stmt)).scalars())
