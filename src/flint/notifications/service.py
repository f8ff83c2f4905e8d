"""Notifications: one entry point (:func:`notify`) and the outbox that delivers them.

Every notification is an in-app row; the user's preferences add an email and an SMS. Those are
outbox rows written in the caller's transaction and handed to the worker only after the commit,
so a rolled-back change sends nothing and no request waits for a mail server or Twilio. The
worker's task retries transient failures with backoff; a beat task re-sends what a lost
hand-off left pending.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from string import Template
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint import jobs
from flint.config import Settings
from flint.kit.crypto import CredentialBox, CredentialsUnreadable
from flint.kit.time import utcnow
from flint.notifications import email, preferences, sms
from flint.notifications.errors import DeliveryError, Undeliverable
from flint.notifications.kinds import Channel, NotificationKind
from flint.notifications.models import Notification, OutboxMessage
from flint.users.api import User

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8
DELIVER = "flint.notifications.deliver"
MAYBE_SENT = "maybeSentSince"
"""Payload key: when an attempt that may have reached the provider started."""
SEALED = "sealed"
"""Payload key: an email's secrets (`Secrets`), sealed until the email is sent, then wiped."""


@dataclass(frozen=True)
class Secrets:
    """What an email must carry but the outbox must not keep readable (a password-reset token):
    sealed with ``box`` while the message waits, put into the body's ``${name}`` placeholders
    only as it is sent, and wiped once it is sent or has failed. The stored body keeps the
    placeholders, so the row never holds the secret in plain text."""

    values: Mapping[str, str]
    box: CredentialBox


async def notify(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    kind: NotificationKind | str,
    title: str,
    body: str,
    data: dict[str, Any] | None = None,
    email_body: str | None = None,
    email_secrets: Secrets | None = None,
) -> Notification | None:
    """Tell a user something: always in the app, and by email and SMS as their preferences
    for ``kind`` say (security notices always by email, never by SMS). ``email_body``
    replaces ``body`` in the email only: for what must not be kept in the app or sent by
    SMS, such as a password-reset link; ``email_secrets`` fill its placeholders only when it
    is sent. None when the user no longer exists."""
    kind = NotificationKind(kind)
    user = await session.get(User, user_id)
    if user is None:
        log.warning("notify_unknown_user", user_id=str(user_id), kind=kind.value)
        return None
    title = title[:200]
    notification = Notification(
        user_id=user_id, kind=kind.value, title=title, body=body, data=dict(data or {})
    )
    session.add(notification)
    await session.flush()
    prefs = await preferences.load(session, user_id)
    chosen = prefs.for_kind(kind)
    outgoing: list[tuple[Channel, str, str]] = []
    if Channel.EMAIL in chosen:
        outgoing.append((Channel.EMAIL, user.email, body if email_body is None else email_body))
    if Channel.SMS in chosen and prefs.phone_number:
        outgoing.append((Channel.SMS, prefs.phone_number, sms.text_of(title, body)))
    for channel, recipient, text in outgoing:
        payload = {"notificationId": str(notification.id)}
        if channel is Channel.EMAIL and email_secrets is not None:
            payload[SEALED] = email_secrets.box.seal(dict(email_secrets.values))
        message = OutboxMessage(
            user_id=user_id,
            channel=channel.value,
            kind=kind.value,
            recipient=recipient,
            subject=title,
            body=text,
            payload=payload,
        )
        await _queue(session, message)
    return notification


async def queue_email(
    session: AsyncSession,
    *,
    user_id: uuid.UUID | None,
    to: str,
    subject: str,
    body: str,
    kind: str,
) -> OutboxMessage:
    """An email to an address, outside the user's notifications (nothing in-app, no
    preferences); users' notifications go through :func:`notify`."""
    message = OutboxMessage(
        user_id=user_id,
        channel=Channel.EMAIL.value,
        kind=kind,
        recipient=to,
        subject=subject,
        body=body,
    )
    return await _queue(session, message)


async def _queue(session: AsyncSession, message: OutboxMessage) -> OutboxMessage:
    session.add(message)
    await session.flush()
    jobs.enqueue(session, DELIVER, str(message.id))
    return message


async def deliver(
    session: AsyncSession,
    settings: Settings,
    message_id: uuid.UUID,
    box: CredentialBox | None = None,
) -> str:
    """Send one message; safe to run twice (a sent message is left alone). Returns its status.
    Transient failures raise :class:`DeliveryError` for the task to retry; a permanent refusal
    or the last attempt marks it ``failed``. ``box`` opens the secrets of a message that has
    some; they are wiped once it is sent or has failed."""
    message = await session.get(OutboxMessage, message_id, with_for_update=not settings.is_sqlite)
    if message is None:
        return "missing"
    if message.status != "pending":
        return message.status
    message.attempts += 1
    started = utcnow()
    try:
        provider_id = await _send(settings, message, box)
    except Undeliverable as exc:
        return _failed(message, str(exc))
    except DeliveryError as exc:
        message.last_error = str(exc)[:500]
        if isinstance(exc, sms.MaybeSent) and MAYBE_SENT not in message.payload:
            message.payload = {**message.payload, MAYBE_SENT: started.isoformat()}
        if message.attempts >= MAX_ATTEMPTS:
            return _failed(message, str(exc))
        raise
    message.status = "sent"
    message.sent_at = utcnow()
    message.last_error = None
    message.payload = _without_secrets(message.payload)
    if provider_id is not None:
        message.payload = {**message.payload, "providerId": provider_id}
    log.info(
        "notification_sent", message_id=str(message.id), kind=message.kind, channel=message.channel
    )
    return message.status


def _body(message: OutboxMessage, box: CredentialBox | None) -> str:
    """The body as sent: its placeholders filled with the message's secrets, if it has any."""
    sealed = message.payload.get(SEALED)
    if sealed is None:
        return message.body
    if box is None:
        raise Undeliverable("the message has sealed values and no box was given to open them")
    try:
        values = box.open(sealed)
    except CredentialsUnreadable as exc:
        raise Undeliverable("no configured credentials key opens the message's values") from exc
    return Template(message.body).safe_substitute(values)


def _without_secrets(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key != SEALED}


async def _send(
    settings: Settings, message: OutboxMessage, box: CredentialBox | None
) -> str | None:
    if message.channel == Channel.SMS.value:
        since = message.payload.get(MAYBE_SENT)
        return await sms.send(
            settings,
            to=message.recipient,
            body=message.body,
            maybe_sent_since=datetime.fromisoformat(since) if since else None,
        )
    body = _body(message, box)
    await email.send(settings, to=message.recipient, subject=message.subject, body=body)
    return None


def _failed(message: OutboxMessage, reason: str) -> str:
    message.status = "failed"
    message.last_error = reason[:500]
    message.payload = _without_secrets(message.payload)
    log.error(
        "notification_failed",
        message_id=str(message.id),
        channel=message.channel,
        attempts=message.attempts,
        reason=reason[:200],
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
