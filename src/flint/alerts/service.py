"""Price alerts a user keeps: create (known symbols only, up to a cap), list, read, delete.
Evaluation against quotes is in :mod:`flint.alerts.evaluation`."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.alerts.models import Alert
from flint.alerts.schemas import (
    AlertCondition,
    AlertIn,
    AlertPatch,
    AlertState,
    threshold_problem,
)
from flint.billing.api import Limit, Plans
from flint.errors import Conflict, NotFound, ValidationFailed
from flint.market.api import MarketData
from flint.users.api import lock_user


async def create(
    session: AsyncSession,
    market: MarketData,
    plans: Plans,
    user_id: uuid.UUID,
    body: AlertIn,
    *,
    limit: int,
) -> Alert:
    """Refused with 422 for a symbol the market does not know, 403 beyond the plan's alerts,
    409 beyond ``limit`` alerts (the server's cap, whatever the plan). The alert is on the
    symbol as the market names it (``BRK.B`` is ``BRK-B``), the one its quotes come under."""
    known = market.instrument(body.symbol)
    if known is None:
        raise ValidationFailed.at("body.symbol", f"Unknown symbol {body.symbol}.")
    await plans.enforce(session, user_id, Limit.ALERTS)
    await lock_user(session, user_id)  # two concurrent creates must not both pass the count
    held = await session.scalar(select(func.count()).where(Alert.user_id == user_id))
    if (held or 0) >= limit:
        raise Conflict(f"You have {held} price alerts, the most allowed; delete one first.")
    alert = Alert(
        user_id=user_id,
        symbol=known.symbol,
        condition=body.condition.value,
        threshold=body.threshold,
        state=AlertState.ARMED.value,
    )
    session.add(alert)
    await session.flush()
    return alert


async def list_alerts(session: AsyncSession, user_id: uuid.UUID) -> list[Alert]:
    stmt = (
        select(Alert)
        .where(Alert.user_id == user_id)
        .order_by(Alert.created_at.desc(), Alert.id.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, user_id: uuid.UUID, alert_id: uuid.UUID) -> Alert:
    """The caller's alert; anyone else's is 404."""
    alert = await session.get(Alert, alert_id)
    if alert is None or alert.user_id != user_id:
        raise NotFound(f"No price alert {alert_id}.")
    return alert


async def amend(session: AsyncSession, alert: Alert, body: AlertPatch) -> Alert:
    """Change what ``body`` sends. A new condition or threshold (checked against the condition
    the alert ends with) re-arms it and forgets the last quote checked, so the next check
    fires it when it already holds; pausing stops it firing, resuming re-arms it the same way."""
    condition = body.condition or AlertCondition(alert.condition)
    threshold = body.threshold if body.threshold is not None else alert.threshold
    problem = threshold_problem(condition, threshold)
    if problem is not None:
        raise ValidationFailed.at("body.threshold", problem)
    changed = (condition.value, threshold) != (alert.condition, alert.threshold)
    alert.condition, alert.threshold = condition.value, threshold
    paused = alert.state == AlertState.PAUSED
    if body.paused is True:
        alert.state = AlertState.PAUSED.value
    elif (body.paused is False and paused) or (changed and not paused):
        alert.state = AlertState.ARMED.value
        alert.last_quote_at = None
    await session.flush()
    return alert


async def delete(session: AsyncSession, alert: Alert) -> None:
    await session.delete(alert)
    await session.flush()


async def count_alerts(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).where(Alert.user_id == user_id)) or 0)


async def watched_symbols(session: AsyncSession) -> list[str]:
    """Every symbol some alert is on: the quote refresh keeps them fresh, watched or not."""
    return list((await session.execute(select(Alert.symbol).distinct())).scalars())
