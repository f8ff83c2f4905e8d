"""A trade's life at the broker, as the worker drives it: placed exactly once, followed to a
final state, and recorded in the audit trail (`flint.trades.service` says how the guarantees
hold); also the notices a fill or a refusal sends."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.accounts import api as accounts
from flint.accounts.api import LinkedAccount
from flint.analytics import track
from flint.brokerage.api import (
    AccountProvider,
    AccountProviderError,
    Credentials,
    Identity,
    Order,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUnconfirmed,
    TimeInForce,
)
from flint.db import commit
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderError, ProviderUnavailable
from flint.notifications.api import NotificationKind, notify
from flint.trades import preview_store
from flint.trades.context import TradingContext
from flint.trades.models import Trade, TradeEvent

log = structlog.get_logger(__name__)


async def provider_for(
    session: AsyncSession, ctx: TradingContext, account: LinkedAccount
) -> tuple[AccountProvider, Identity, Credentials]:
    return await accounts.account_credentials(
        session, ctx.accounts, account, field="body.accountId"
    )


async def account_of(session: AsyncSession, trade: Trade) -> LinkedAccount:
    account = await accounts.load_account(session, trade.account_id)
    assert account is not None  # trades keep their account's row (unlinking keeps it)
    return account


def event(session: AsyncSession, trade: Trade, status: str, **detail: Any) -> None:
    session.add(TradeEvent(trade_id=trade.id, status=status, detail=detail))


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


def apply(session: AsyncSession, trade: Trade, order: Order, source: str) -> bool:
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
        event(
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


def end(session: AsyncSession, trade: Trade, status: OrderStatus, reason: str) -> None:
    trade.status = status.value
    trade.reason = reason[:500]
    trade.updated_at = utcnow()
    event(session, trade, status.value, reason=reason)


NOTIFY = {OrderStatus.FILLED.value, OrderStatus.REJECTED.value, OrderStatus.UNKNOWN.value}


FILLS = {OrderStatus.FILLED.value, OrderStatus.PARTIALLY_FILLED.value}


async def notify_change(session: AsyncSession, trade: Trade, before: str) -> None:
    """A trade that just filled or was rejected tells its owner (in the app, and by email or
    SMS as their preferences say); a fill also re-syncs the account, so its balances and
    holdings show the trade."""
    if trade.status == before:
        return
    if trade.status in FILLS:
        await accounts.request_sync(session, await account_of(session, trade))
    if trade.status == OrderStatus.FILLED.value:
        await track(
            session,
            trade.user_id,
            "trade_executed",
            {"side": trade.action, "order_type": trade.order_type, "status": "filled"},
        )
    if trade.status not in NOTIFY:
        return
    verb = "bought" if trade.action == "buy" else "sold"
    if trade.status == OrderStatus.FILLED.value:
        title = f"Filled: {verb} {trade.filled_quantity} {trade.symbol}"
        body = (
            f"Your {trade.order_type} order to {trade.action} {trade.quantity} {trade.symbol} "
            f"filled: {trade.filled_quantity} at {trade.average_price}.\n\nTrade {trade.id}"
        )
    elif trade.status == OrderStatus.UNKNOWN.value:
        title = f"Unconfirmed: {trade.action} {trade.quantity} {trade.symbol}"
        body = (
            f"Your order to {trade.action} {trade.quantity} {trade.symbol} was sent, but the "
            f"broker could not confirm whether it was placed ({trade.reason}). Flint will not "
            "send it again; check your brokerage account before placing it once more."
            f"\n\nTrade {trade.id}"
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


async def locked(session: AsyncSession, trade_id: uuid.UUID) -> Trade | None:
    dialect = session.bind.dialect.name if session.bind is not None else ""
    stmt = select(Trade).where(Trade.id == trade_id).execution_options(populate_existing=True)
    if dialect == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


class StillSending(ProviderUnavailable):
    """Another delivery of a trade's job came within its send window (`TradingContext.
    send_window`: an earlier worker may still be sending the order); ``retry_after`` is what
    is left of the window, when the provider may be asked."""


LOST_ANSWER = "the provider's answer was lost; checking whether the order was placed"


async def submit(session: AsyncSession, ctx: TradingContext, trade_id: uuid.UUID) -> str:
    """Get the trade to the provider at most once; returns its status.

    ``submitted_at`` is committed before the order is sent: a trade that has it may have been
    placed, so it is never sent again. The provider is asked for it instead (`find_order`); when
    the provider cannot tell, the trade stops ``unknown`` for the sweep (`resolve`) or a person.
    Transient failures raise (the task retries), after the send with ``reason`` saying the
    answer was lost."""
    trade = await locked(session, trade_id)
    if trade is None:
        return "missing"
    if trade.status != OrderStatus.PENDING.value:
        return trade.status
    account = await account_of(session, trade)
    before = trade.status
    try:
        provider, identity, credentials = await provider_for(session, ctx, account)
        request = await preview_store.request_for(session, trade, _request(trade, account))
        if trade.submitted_at is not None:
            await _recover(
                session, trade, provider, identity, credentials, request, ctx.send_window
            )
        else:
            trade = await _mark_sent(session, trade_id)
            if trade.status != OrderStatus.PENDING.value:
                return trade.status
            try:
                order = await provider.place_order(identity, credentials, request)
            except ProviderError:
                trade.reason = LOST_ANSWER
                trade.updated_at = utcnow()
                await commit(session)
                raise
            apply(session, trade, order, "placed")
    except OrderUnconfirmed as exc:
        _unknown(session, trade, exc)
    except OrderRejected as exc:
        end(session, trade, OrderStatus.REJECTED, exc.reason)
    except AccountProviderError as exc:  # gone, unsupported: nothing will make it work
        end(session, trade, OrderStatus.REJECTED, exc.reason)
    await notify_change(session, trade, before)
    await session.flush()
    return trade.status


async def _mark_sent(session: AsyncSession, trade_id: uuid.UUID) -> Trade:
    """Commit ``submitted_at`` (and the attempt) before sending; returns the trade locked
    again (a cancel that came in between has had its say)."""
    trade = await locked(session, trade_id)
    assert trade is not None
    now = utcnow()
    trade.submitted_at, trade.updated_at, trade.reason = now, now, None
    trade.attempts += 1
    await commit(session)
    again = await locked(session, trade_id)
    assert again is not None
    return again


async def _recover(
    session: AsyncSession,
    trade: Trade,
    provider: AccountProvider,
    identity: Identity,
    credentials: Credentials,
    request: OrderRequest,
    window: timedelta,
) -> None:
    """The trade was sent before: record the provider's order, or fail it when the provider
    says it has none; never send it again. Within ``window`` of the send (and no lost answer
    recorded), an earlier worker may still be sending it: `StillSending`."""
    sent = trade.submitted_at
    assert sent is not None
    sent = sent if sent.tzinfo else sent.replace(tzinfo=UTC)
    left = sent + window - utcnow()
    if trade.reason is None and left > timedelta(0):
        raise StillSending(
            "flint",
            "an earlier attempt may still be sending this order",
            retry_after=left.total_seconds(),
        )
    existing = await provider.find_order(
        identity, credentials, request.account_id, trade.client_order_id, request=request
    )
    if existing is None:
        end(session, trade, OrderStatus.FAILED, "the order never reached the provider")
        return
    if await claimed(session, trade, existing.provider_order_id):
        raise OrderUnconfirmed(
            provider.name,
            "its order at the provider is another trade's",
            (existing.provider_order_id,),
        )
    log.info("trade_found_at_provider", trade_id=str(trade.id))
    trade.reason = None
    apply(session, trade, existing, "recovered")


async def claimed(session: AsyncSession, trade: Trade, provider_order_id: str) -> bool:
    stmt = select(Trade.id).where(
        Trade.provider_order_id == provider_order_id,
        Trade.account_id == trade.account_id,
        Trade.id != trade.id,
    )
    return (await session.execute(stmt)).first() is not None


def _unknown(session: AsyncSession, trade: Trade, exc: OrderUnconfirmed) -> None:
    trade.status = OrderStatus.UNKNOWN.value
    trade.reason = f"sent, but the provider cannot confirm the order: {exc.reason}"[:500]
    trade.updated_at = utcnow()
    event(
        session,
        trade,
        OrderStatus.UNKNOWN.value,
        reason=exc.reason,
        candidates=list(exc.candidates),
    )


async def give_up(session: AsyncSession, trade_id: uuid.UUID, reason: str) -> None:
    """After the last retry: a trade never sent ends ``failed``, one that was sent ends
    ``unknown`` (it may be at the provider), unless it moved on meanwhile."""
    trade = await locked(session, trade_id)
    if trade is None or trade.status != OrderStatus.PENDING.value:
        return
    if trade.submitted_at is None:
        end(session, trade, OrderStatus.FAILED, reason)
    else:
        _unknown(session, trade, OrderUnconfirmed("flint", reason))
    await session.flush()


async def resolve(session: AsyncSession, ctx: TradingContext, trade_id: uuid.UUID) -> str:
    """The sweep's look at an ``unknown`` trade: the provider's one order for it is recorded,
    a provider that says it has none fails it, and it stays ``unknown`` while the provider
    still cannot tell (for a person to settle)."""
    trade = await locked(session, trade_id)
    if trade is None or trade.status != OrderStatus.UNKNOWN.value:
        return trade.status if trade else "missing"
    account = await account_of(session, trade)
    before = trade.status
    try:
        provider, identity, credentials = await provider_for(session, ctx, account)
        request = _request(trade, account)
        existing = await provider.find_order(
            identity, credentials, request.account_id, trade.client_order_id, request=request
        )
    except (AccountProviderError, ProviderError) as exc:  # OrderUnconfirmed among them
        log.info("trade_still_unknown", trade_id=str(trade.id), reason=str(exc))
        return trade.status
    if existing is None:
        end(session, trade, OrderStatus.FAILED, "the order never reached the provider")
    elif not await claimed(session, trade, existing.provider_order_id):
        trade.reason = None
        apply(session, trade, existing, "resolved")
    await notify_change(session, trade, before)
    await session.flush()
    return trade.status


async def refresh(session: AsyncSession, ctx: TradingContext, trade_id: uuid.UUID) -> str:
    """Ask the provider how an open order stands and record it; returns the status."""
    trade = await locked(session, trade_id)
    if trade is None or OrderStatus(trade.status).final or trade.provider_order_id is None:
        return trade.status if trade else "missing"
    account = await account_of(session, trade)
    try:
        provider, identity, credentials = await provider_for(session, ctx, account)
        order = await provider.get_order(
            identity, credentials, account.provider_account_id, trade.provider_order_id
        )
    except AccountProviderError as exc:
        log.warning("trade_refresh_failed", trade_id=str(trade.id), reason=exc.reason)
        return trade.status
    before = trade.status
    apply(session, trade, order, "refreshed")
    await notify_change(session, trade, before)
    await session.flush()
    return trade.status


async def unknown_trades(session: AsyncSession) -> list[uuid.UUID]:
    """Trades sent whose placement the provider could not confirm: for the sweep to ask again."""
    stmt = select(Trade.id).where(Trade.status == OrderStatus.UNKNOWN.value)
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
