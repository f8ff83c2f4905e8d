"""The in-app notifications: a user's list (newest first, paged by an opaque cursor), the
unread count, and marking them read."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import NotFound
from flint.kit.paging import newest_first
from flint.kit.time import utcnow
from flint.notifications.models import Notification


def _aware(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError("naive timestamp")
    return when


async def page(
    session: AsyncSession, user_id: uuid.UUID, *, unread: bool, limit: int, cursor: str | None
) -> tuple[list[Notification], str | None]:
    """Newest first (created, then id), ``limit`` at a time; the cursor names the last row."""
    stmt = select(Notification).where(Notification.user_id == user_id)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return await newest_first(
        session,
        stmt,
        Notification.created_at,
        Notification.id,
        parse=_aware,
        limit=limit,
        cursor=cursor,
    )


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
