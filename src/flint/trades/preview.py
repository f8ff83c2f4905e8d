"""Trade previews: what an order would cost, from the broker, before anything is placed; and
the preview's id, which `POST /trades/execute {previewId}` places exactly once.

A preview is checked like an execute (`service.check`: the account trades, the symbol exists,
buying power and position cover it; 422 and nothing stored otherwise), then the provider
estimates it (`AccountProvider.preview_order`: SnapTrade's ``/trade/impact``, the sandbox's own
rules) and the preview is stored (`preview_store`) with its estimate and, for a broker that
checks trades first, the broker's id to place it with. It can be executed until it expires:
:data:`LIFETIME` after it was made, or earlier when the broker forgets its checked trade.
An Idempotency-Key replays the first preview for 24 hours.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from flint import idempotency
from flint.accounts.api import LinkedAccount
from flint.brokerage.api import (
    AccountGone,
    AccountProviderError,
    OrderPreview,
    OrderRejected,
    OrderRequest,
)
from flint.errors import ValidationFailed
from flint.kit.time import utcnow
from flint.trades import preview_store
from flint.trades.context import TradingContext
from flint.trades.orders import provider_for
from flint.trades.preview_schemas import PreviewOut
from flint.trades.preview_store import TradePreview
from flint.trades.schemas import ExecuteTrade
from flint.trades.service import Answer, broker_answers, check

SCOPE = "trades.preview"
LIFETIME = timedelta(minutes=5)
"""How long a preview can be executed (at most: a broker's checked trade may expire first)."""
NO_BROKER_PRICE = "The broker gave no price: the estimate uses Flint's latest market price."


async def preview(
    session: AsyncSession,
    ctx: TradingContext,
    user_id: uuid.UUID,
    body: ExecuteTrade,
    key: str | None,
) -> Answer:
    """Check and estimate ``body`` and store the preview (201); a retried key replays it."""
    key = idempotency.check_key(key) if key is not None else None
    digest = idempotency.request_hash(body.fingerprint())
    if key is not None:
        found = await idempotency.lookup(
            session, user_id, SCOPE, key, digest, abandoned_after=ctx.abandoned_after
        )
        if isinstance(found, idempotency.Replay):
            return Answer(found.status_code, found.body, replayed=True)
        if isinstance(found, idempotency.Abandoned):  # a preview keeps its answer with its
            # key in one transaction, so this is only defence: rebuild from the stored row
            row = await session.get(TradePreview, found.resource_id)
            assert row is not None
            answer = _answer(row)
            idempotency.remember(found.record, answer.status_code, answer.body)
            return Answer(answer.status_code, answer.body, replayed=True)
    account = await check(session, ctx, user_id, body)
    preview_id = uuid.uuid4()
    now = utcnow()
    estimate = await _estimate(session, ctx, account, body, preview_id)
    price, value, warnings = estimate.estimated_price, estimate.estimated_value, estimate.warnings
    if price is None:
        price = body.limit_price or body.stop_price
        price = price or (await ctx.market.latest(body.asset)).quote.price
        warnings = [*warnings, NO_BROKER_PRICE]
    if value is None:
        value = body.quantity * price
    expires_at = now + LIFETIME
    if estimate.expires_at is not None:
        expires_at = min(expires_at, estimate.expires_at)
    row = TradePreview(
        id=preview_id,
        user_id=user_id,
        account_id=account.id,
        symbol=body.asset,
        action=body.action.value,
        quantity=body.quantity,
        order_type=body.order_type.value,
        time_in_force=body.time_in_force.value,
        limit_price=body.limit_price,
        stop_price=body.stop_price,
        estimated_price=price,
        estimated_value=value,
        commission=estimate.commission,
        buying_power_after=estimate.buying_power_after,
        warnings=list(warnings),
        provider_ref=estimate.provider_ref,
        expires_at=expires_at,
        created_at=now,
    )
    await preview_store.forget_expired(session, user_id)
    session.add(row)
    await session.flush()
    answer = _answer(row)
    if key is not None:
        record = await idempotency.claim(session, user_id, SCOPE, key, digest, row.id)
        idempotency.remember(record, answer.status_code, answer.body)
    return answer


def _answer(row: TradePreview) -> Answer:
    return Answer(201, PreviewOut.of(row).model_dump(mode="json", by_alias=True))


async def _estimate(
    session: AsyncSession,
    ctx: TradingContext,
    account: LinkedAccount,
    body: ExecuteTrade,
    preview_id: uuid.UUID,
) -> OrderPreview:
    request = OrderRequest(
        account_id=account.provider_account_id,
        client_order_id=str(preview_id),
        symbol=body.asset,
        action=body.action,
        quantity=body.quantity,
        order_type=body.order_type,
        time_in_force=body.time_in_force,
        limit_price=body.limit_price,
        stop_price=body.stop_price,
    )
    with broker_answers(account):
        try:
            provider, identity, credentials = await provider_for(session, ctx, account)
            return await provider.preview_order(identity, credentials, request)
        except OrderRejected as exc:
            raise ValidationFailed.at(
                "body", f"The broker refuses this order: {exc.reason}."
            ) from exc
        except AccountGone:
            raise  # answered by broker_answers, as an order's check answers it
        except AccountProviderError as exc:
            raise ValidationFailed.at(
                "body.accountId", f"{account.provider} cannot preview trades: {exc.reason}."
            ) from exc
