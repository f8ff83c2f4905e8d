"""The in-app notifications: a user's list (newest first, paged by an opaque cursor), the
unread count, and marking them read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import NotFound
from flint.kit.paging import decode_cursor, page_of
from flint.kit.time import utcnow
from flint.notifications.models import Notification
from flint.reads import Query, Reads


def _aware(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError("naive timestamp")
    return when


def _unread() -> Any:
    return select(func.count().label("unread")).where(
        Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None)
    )


def _page_query(*, unread: bool, after: bool) -> Query:
    """A page, each row with the user's unread count beside it (`Page.unread`: the inbox in one
    statement, one round trip, where it took two)."""
    stmt = select(
        Notification.id,
        Notification.kind,
        Notification.title,
        Notification.body,
        Notification.data,
        Notification.read_at,
        Notification.created_at,
        _unread().scalar_subquery().label("unread_total"),
    ).where(Notification.user_id == bindparam("user_id"))
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if after:
        created, ident = Notification.created_at, Notification.id
        stmt = stmt.where(
            or_(
                created < bindparam("after"),
                and_(created == bindparam("after"), ident < bindparam("last")),
            )
        )
    order = (Notification.created_at.desc(), Notification.id.desc())
    return Query(stmt.order_by(*order).limit(bindparam("limit")))


PAGES = {
    (unread, after): _page_query(unread=unread, after=after)
    for unread in (False, True)
    for after in (False, True)
}
UNREAD = Query(_unread())


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    """Newest first, with the `Notification` columns of the inbox (``id``, ..., ``created_at``)."""
    next_cursor: str | None
    unread: int
    """The user's unread notifications, all of them (not only this page's)."""


async def page(
    reads: Reads, user_id: uuid.UUID, *, unread: bool, limit: int, cursor: str | None
) -> Page:
    """Newest first (created, then id), ``limit`` at a time; the cursor names the last row."""
    params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}
    if cursor:
        params["after"], params["last"] = decode_cursor(cursor, _aware)
    rows = await reads.all(PAGES[unread, bool(cursor)], **params)
    if rows:
        count = int(rows[0].unread_total)
    elif cursor:  # past the last page: the count is asked for on its own
        count = await count_unread(reads, user_id)
    else:  # nothing (unread) at all
        count = 0
    shown, next_cursor = page_of(rows, limit, "created_at", "id")
    return Page(shown, next_cursor, count)


async def count_unread(reads: Reads, user_id: uuid.UUID) -> int:
    return int(await reads.scalar(UNREAD, user_id=user_id))


async def unread_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    """In the session's transaction (after marking some read, say)."""
    return int((await session.execute(UNREAD.statement, {"user_id": user_id})).scalar_one())


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
