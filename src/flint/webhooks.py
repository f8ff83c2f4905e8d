"""What every vendor webhook needs, whoever sends it (Stripe to billing, SnapTrade to accounts).

A delivery is verified by the feature that knows the vendor's signing; a verified event of a
kind Flint handles is stored once under the vendor's event id (the primary key of an `Inbox`
table: a repeated delivery, concurrent or late, inserts nothing and sends nothing), the request
answers at once, and a worker handles the stored event after the commit. The worker marks a
row handled in the transaction that applies it; a sweep sends again the rows whose job was lost
and forgets handled ones after a while.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import dialect_insert
from flint.kit.schema import ApiModel
from flint.kit.time import utcnow

MAX_BYTES = 1024 * 1024
"""A webhook's body limit (the body-size middleware's override for `PATHS`), whatever
`FLINT_MAX_BODY_BYTES` says: vendors' events are well under it."""
PATHS = re.compile(r"/api(?:/v1)?/(?:billing/webhook|webhooks/[a-z]+)")
"""The routes vendors deliver webhooks to."""


class WebhookRefused(Exception):
    """A body that is not the vendor's: unsigned, mis-signed, too old, or not an event."""


class WebhookReceived(ApiModel):
    """What a webhook delivery is answered (the vendor only looks at the status)."""

    received: bool = Field(default=True, examples=[True])


class Inbox:
    """The columns of a table of received webhook events (with an ``id`` primary key of the
    vendor's event id, declared by the table)."""

    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(200))
    """What handling did: applied, stale, ignored and why."""


async def store_once(session: AsyncSession, table: type[Any], **values: Any) -> bool:
    """Insert the event ``values`` into the inbox ``table`` unless its id is there already;
    True when this call stored it (concurrent inserts of one id wait for the first, then
    find it)."""
    stmt = dialect_insert(session)(table).values(**values).on_conflict_do_nothing()
    result = await session.execute(stmt)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def pending(
    session: AsyncSession, table: type[Any], older_than: timedelta, limit: int = 500
) -> list[str]:
    """Ids of events stored but not handled for ``older_than``: their job was lost."""
    stmt = (
        select(table.id)
        .where(table.handled_at.is_(None), table.received_at < utcnow() - older_than)
        .order_by(table.received_at)
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def prune(session: AsyncSession, table: type[Any], keep: timedelta) -> int:
    """Forget the events handled and received more than ``keep`` ago."""
    result = await session.execute(
        delete(table).where(table.handled_at.is_not(None), table.received_at < utcnow() - keep)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
