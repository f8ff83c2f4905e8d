"""The outbox: messages are rows first, and are handed to the worker only after the commit."""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.config import Settings
from flint.db import after_commit
from flint.kit.time import utcnow
from flint.notifications import email
from flint.notifications.models import OutboxMessage

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8


async def queue_email(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    to: str,
    subject: str,
    body: str,
    kind: str,
) -> OutboxMessage:
    message = OutboxMessage(
        user_id=user_id, channel="email", kind=kind, recipient=to, subject=subject, body=body
    )
    session.add(message)
    await session.flush()
    message_id = message.id

    async def _dispatch() -> None:
        from flint.notifications.tasks import enqueue_delivery

        await enqueue_delivery(message_id)

    after_commit(session, _dispatch)
    return message


async def deliver(session: AsyncSession, settings: Settings, message_id: uuid.UUID) -> str:
    """Send one message; safe to run twice (a sent message is left alone). Returns its status."""
    message = await session.get(OutboxMessage, message_id, with_for_update=not settings.is_sqlite)
    if message is None:
        return "missing"
    if message.status != "pending":
        return message.status
    message.attempts += 1
    try:
        await email.send(settings, to=message.recipient, subject=message.subject, body=message.body)
    except email.DeliveryError as exc:
        message.last_error = str(exc)[:500]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
            log.error("email_failed", message_id=str(message.id), attempts=message.attempts)
            return message.status
        raise
    message.status = "sent"
    message.sent_at = utcnow()
    message.last_error = None
    log.info(
        "email_sent", message_id=str(message.id), kind=message.kind, backend=settings.email_backend
    )
    return message.status


async def stale_pending(session: AsyncSession, older_than: timedelta) -> list[uuid.UUID]:
    """Messages whose dispatch after commit was lost (e.g. the broker was down): send them again."""
    cutoff = utcnow() - older_than
    stmt = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.created_at < cutoff)
        .order_by(OutboxMessage.created_at)
        .limit(500)
    )
    return list((await session.execute(stmt)).scalars())
