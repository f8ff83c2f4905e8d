"""Syncs of a link requested in bursts (a fill per trade, a webhook per change) become one: a
request sends a sync only when none is waiting to begin, since the one waiting will read the
institution after the request anyway (the soak's worker synced a whole account per fill, and
two worker processes saturated at 2 trades a second).

The waiting sync is a row (`LinkSyncRequest`) written with the request's transaction and
deleted, in a short transaction of its own, as the sync begins: a request after that sends
another sync, which sees what the running one may have missed. A row older than `QUEUED_FOR`
is a sync whose message was lost: the next request sends one again.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from flint import jobs
from flint.accounts.models import LinkSyncRequest
from flint.db import dialect_insert
from flint.kit.time import utcnow

SYNC_LINK = "flint.accounts.sync_link"
QUEUED_FOR = timedelta(minutes=2)
"""A sync sent this long ago and not begun is taken as lost."""


async def queue_sync(session: AsyncSession, link_id: uuid.UUID) -> bool:
    """Sync the link in the background once this transaction has committed, unless a sync
    sent earlier is still waiting to begin; True when one was sent. Concurrent requests queue
    on the row (PostgreSQL) or the write lock (SQLite), and the later ones find it."""
    now = utcnow()
    table = LinkSyncRequest.__table__
    stmt = (
        dialect_insert(session)(table)
        .values(link_id=link_id, queued_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.link_id],
            set_={"queued_at": now},
            where=table.c.queued_at < now - QUEUED_FOR,
        )
    )
    result = await session.execute(stmt)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    jobs.enqueue(session, SYNC_LINK, str(link_id))
    return True


async def sync_begun(session: AsyncSession, link_id: uuid.UUID) -> None:
    """The link's sync is beginning: a request from now on sends another (the caller commits
    before the sync reads anything)."""
    await session.execute(delete(LinkSyncRequest).where(LinkSyncRequest.link_id == link_id))
