"""The in-app notifications: a user's list (newest first, paged by an opaque cursor), the
unread count, and marking them read."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import NotFound, ValidationFailed
from flint.kit.time import utcnow
from flint.notifications.models import Notification


def _encode_cursor(row: Notification) -> str:
    return base64.urlsafe_b64encode(f"{row.created_at.isoformat()}|{row.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        at, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive timestamp")
        return when, uuid.UUID(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        detail = "The cursor is not one this API gave out."
        raise ValidationFailed.at("query.cursor", detail) from exc


async def page(
    session: AsyncSession, user_id: uuid.UUID, *, unread: bool, limit: int, cursor: str | None
) -> tuple[list[Notification], str | None]:
    """Newest first (created, then id), ``limit`` at a time; the cursor names the last row."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if cursor:
        at, ident = _decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                Notification.created_at < at,
                and_(Notification.created_at == at, Notification.id < ident),
            )
        )
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
    rows = list((await session.execute(stmt.limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_encode_cursor(rows[-1]) if more and rows else None)


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def get(
    session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification:
    """The caller's notification; anyone else's is 404."""
    row = await session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"No notification {notification_id}.")
    return row


async def mark_read(session: AsyncSession, notification: Notification) -> Notification:
    """Idempotent: a notification read before keeps its first read time."""
    if notification.read_at is None:
        notification.read_at = utcnow()
        await session.flush()
    return notification


async def mark_all_read(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Returns how many were unread."""
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
