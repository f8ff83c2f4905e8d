"""Checking price alerts against fresh quotes: fire once, re-arm when the condition lapses.

A batch of quotes costs one SELECT and at most three UPDATEs, whatever the number of alerts.
Two processes may evaluate the same quote at once (the quote refresh task and an API process's
stream poller, or two workers). The SELECT locks the alerts of the batch's symbols in id order
(``FOR UPDATE`` on PostgreSQL; SQLite's writers take turns anyway), so the second waits and then
reads what the first wrote; the state changes are conditional UPDATEs besides
(``WHERE state = 'armed' … RETURNING id``), and only the transaction whose UPDATE returned an
alert notifies: an alert fires once per crossing. Each alert remembers the timestamp of the
newest quote it was checked against, and an older or equal quote changes nothing, so quotes
arriving out of order cannot re-arm an alert a newer quote fired (nor fire it twice).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import ColumnElement, case, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.alerts.models import Alert
from flint.alerts.schemas import AlertCondition, AlertState
from flint.db import Price, UTCDateTime, commit
from flint.kit.time import utcnow
from flint.market.api import Quote, QuoteListener
from flint.notifications.api import NotificationKind, notify

log = structlog.get_logger(__name__)


def holds(condition: str, threshold: Decimal, quote: Quote) -> bool:
    """Whether ``quote`` meets the condition (see ``CONDITIONS_DOC``)."""
    if condition == AlertCondition.ABOVE:
        return quote.price >= threshold
    if condition == AlertCondition.BELOW:
        return quote.price <= threshold
    if threshold > 0:
        return quote.change_percent >= threshold
    return quote.change_percent <= threshold


@dataclass(frozen=True)
class Fired:
    alert_id: uuid.UUID
    user_id: uuid.UUID
    symbol: str
    condition: str
    threshold: Decimal
    quote: Quote


def newest_per_symbol(quotes: Iterable[Quote]) -> dict[str, Quote]:
    latest: dict[str, Quote] = {}
    for quote in quotes:
        known = latest.get(quote.symbol)
        if known is None or quote.timestamp > known.timestamp:
            latest[quote.symbol] = quote
    return latest


def _per_symbol(latest: dict[str, Quote], value: Callable[[Quote], Any], type_: Any) -> Any:
    """``CASE symbol WHEN 'AAPL' THEN <AAPL's value> …``: one statement for every symbol."""
    return case(
        {symbol: literal(value(quote), type_) for symbol, quote in latest.items()},
        value=Alert.symbol,
    )


async def evaluate(session: AsyncSession, quotes: Iterable[Quote]) -> list[Fired]:
    """Check every alert on the quotes' symbols; fire (and notify) or re-arm as they say.
    Returns the alerts this call fired. Runs in the caller's transaction."""
    latest = newest_per_symbol(quotes)
    if not latest:
        return []
    rows = (
        await session.execute(
            select(
                Alert.id,
                Alert.user_id,
                Alert.symbol,
                Alert.condition,
                Alert.threshold,
                Alert.state,
                Alert.last_quote_at,
            )
            .where(Alert.symbol.in_(latest))
            .order_by(Alert.id)
            .with_for_update()
        )
    ).all()
    if not rows:
        return []
    to_fire: dict[uuid.UUID, Fired] = {}
    to_rearm: list[uuid.UUID] = []
    for row in rows:
        quote = latest[row.symbol]
        if row.last_quote_at is not None and row.last_quote_at >= quote.timestamp:
            continue
        met = holds(row.condition, row.threshold, quote)
        if row.state == AlertState.ARMED and met:
            to_fire[row.id] = Fired(
                row.id, row.user_id, row.symbol, row.condition, row.threshold, quote
            )
        elif row.state == AlertState.FIRED and not met:
            to_rearm.append(row.id)

    quoted_at = _per_symbol(latest, lambda q: q.timestamp, UTCDateTime())
    newer: ColumnElement[bool] = or_(Alert.last_quote_at.is_(None), Alert.last_quote_at < quoted_at)
    observed = {
        "last_price": _per_symbol(latest, lambda q: q.price, Price()),
        "last_change_percent": _per_symbol(latest, lambda q: q.change_percent, Price()),
        "last_quote_at": quoted_at,
    }
    unsynced = {"synchronize_session": False}
    fired: list[Fired] = []
    if to_fire:
        won = await session.execute(
            update(Alert)
            .where(Alert.id.in_(to_fire), Alert.state == AlertState.ARMED.value, newer)
            .values(state=AlertState.FIRED.value, last_fired_at=utcnow(), **observed)
            .returning(Alert.id)
            .execution_options(**unsynced)
        )
        fired = [to_fire[alert_id] for alert_id in won.scalars()]
    if to_rearm:
        await session.execute(
            update(Alert)
            .where(Alert.id.in_(to_rearm), Alert.state == AlertState.FIRED.value, newer)
            .values(state=AlertState.ARMED.value, **observed)
            .execution_options(**unsynced)
        )
    await session.execute(
        update(Alert)
        .where(Alert.symbol.in_(latest), newer)
        .values(**observed)
        .execution_options(**unsynced)
    )
    for alert in fired:
        await _notify(session, alert)
    if fired or to_rearm:
        log.info("alerts_evaluated", fired=len(fired), rearmed=len(to_rearm), symbols=len(latest))
    return fired


def _describe(alert: Fired) -> tuple[str, str]:
    quote = alert.quote
    price = f"{quote.price} {quote.currency}"
    change = f"{quote.change_percent:+}%"
    if alert.condition == AlertCondition.ABOVE:
        title = f"{alert.symbol} is at {price}, at or above {alert.threshold}"
    elif alert.condition == AlertCondition.BELOW:
        title = f"{alert.symbol} is at {price}, at or below {alert.threshold}"
    else:
        direction = "up" if alert.threshold > 0 else "down"
        title = f"{alert.symbol} is {direction} {change} today (alert at {alert.threshold:+}%)"
    body = (
        f"Your price alert on {alert.symbol} ({alert.condition} {alert.threshold}) fired: "
        f"{price}, {change} today, as of {quote.timestamp:%Y-%m-%d %H:%M} UTC. It fires again "
        "once the condition has stopped holding and then holds again."
    )
    return title, body


async def _notify(session: AsyncSession, alert: Fired) -> None:
    title, body = _describe(alert)
    await notify(
        session,
        user_id=alert.user_id,
        kind=NotificationKind.PRICE_ALERT,
        title=title,
        body=body,
        data={
            "alertId": str(alert.alert_id),
            "symbol": alert.symbol,
            "condition": alert.condition,
            "threshold": str(alert.threshold),
            "price": str(alert.quote.price),
            "changePercent": str(alert.quote.change_percent),
            "quotedAt": alert.quote.timestamp.isoformat(),
        },
    )


async def evaluate_committed(
    sessionmaker: async_sessionmaker[AsyncSession], quotes: Sequence[Quote]
) -> list[Fired]:
    """:func:`evaluate` in a transaction of its own, committed (notifications leave after it)."""
    if not quotes:
        return []
    async with sessionmaker() as session:
        fired = await evaluate(session, quotes)
        await commit(session)
        return fired


def listener(sessionmaker: async_sessionmaker[AsyncSession]) -> QuoteListener:
    """What a quote producer (the stream poller) calls with the quotes it just read."""

    async def on_quotes(quotes: Sequence[Quote]) -> None:
        await evaluate_committed(sessionmaker, quotes)

    return on_quotes
