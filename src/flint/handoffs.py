"""Jobs committed but not yet handed to the broker: the durable half of `flint.jobs.enqueue`.

A job is written in the transaction that enqueues it and deleted once the broker has taken it,
so a row that outlives its commit by more than a moment is a hand-off that failed (the broker
was unreachable, or the process died between the commit and the publish): `flint.jobs.relay`
hands it off again. The work itself (a trade, an email) keeps its own state; this table only
says that a task about it is owed to the broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Index, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, JSONType, UUIDPk
from flint.kit.time import utcnow


class JobHandoff(UUIDPk, Base):
    """A task owed to the broker: its name, its arguments and the id of the request that
    enqueued it (for the task's logs)."""

    __tablename__ = "job_handoffs"
    __table_args__ = (Index("ix_job_handoffs_created_at", "created_at"),)

    name: Mapped[str] = mapped_column(String(200))
    args: Mapped[list[str]] = mapped_column(JSONType)
    request_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def record(
    session: AsyncSession, name: str, args: Sequence[str], request_id: str | None
) -> JobHandoff:
    """Owe ``name(*args)`` to the broker, in the session's transaction."""
    owed = JobHandoff(
        id=uuid.uuid4(), name=name, args=list(args), request_id=request_id, created_at=utcnow()
    )
    session.add(owed)
    return owed


async def handed_off(session: AsyncSession, ids: Sequence[uuid.UUID]) -> None:
    """The broker has these: owed no more (the caller commits)."""
    if ids:
        await session.execute(delete(JobHandoff).where(JobHandoff.id.in_(ids)))


async def overdue(session: AsyncSession, older_than: timedelta, limit: int) -> list[JobHandoff]:
    """The oldest hand-offs still owed ``older_than`` after they were enqueued; on PostgreSQL
    locked (skipping those another relay holds) until the caller's transaction ends."""
    stmt = (
        select(JobHandoff)
        .where(JobHandoff.created_at <= utcnow() - older_than)
        .order_by(JobHandoff.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.execute(stmt)).scalars())
