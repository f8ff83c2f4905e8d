"""``Idempotency-Key`` with Stripe's semantics, for Flint's mutating endpoints.

The first answer to a key (status and body) is kept and replayed for 24 hours; the same key
with a different request is a 422; while the first request with a key is still being
answered, another with that key gets 409 and may retry. Nothing is kept for a request that
fails validation. Keys belong to a user and a scope (the operation).

An operation that commits its resource before it has its answer (a trade is committed, then
the broker is waited for) records the resource's id with the key in that first commit. If the
request dies before its answer is kept, the key is not left answering 409: once the first
request cannot still be running (``abandoned_after``), `lookup` hands the caller the resource's
id to rebuild the answer from, and the rebuilt answer is kept.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, UUIDPk
from flint.errors import Conflict, ValidationFailed
from flint.kit.time import utcnow

KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255
IN_PROGRESS = "A request with this Idempotency-Key is still in progress; retry shortly."


class IdempotencyKey(UUIDPk, Base):
    """The first answer to a request carrying ``Idempotency-Key``, replayed for 24 hours."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "scope", "key"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[uuid.UUID | None]
    status_code: Mapped[int | None]
    response: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Abandoned:
    """The first request committed ``resource_id`` and died before its answer was kept:
    rebuild the answer from the resource, then `remember` it on ``record``."""

    record: IdempotencyKey
    resource_id: uuid.UUID


def request_hash(fingerprint: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        detail = f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters."
        raise ValidationFailed.at("header.Idempotency-Key", detail)
    return key


async def lookup(
    session: AsyncSession,
    user_id: uuid.UUID,
    scope: str,
    key: str,
    digest: str,
    *,
    abandoned_after: timedelta,
) -> Replay | Abandoned | None:
    """The stored answer to replay, an abandoned one to rebuild, or None for a new key; 422
    for another request under the key, 409 while the first is in flight. Expired keys are
    forgotten."""
    stmt = select(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id, IdempotencyKey.scope == scope, IdempotencyKey.key == key
    )
    record = (await session.execute(stmt)).scalar_one_or_none()
    if record is None:
        return None
    now = utcnow()
    if record.created_at < now - KEEP_FOR:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record.id))
        return None
    if record.request_hash != digest:
        detail = "This Idempotency-Key was used with a different request."
        raise ValidationFailed.at("header.Idempotency-Key", detail)
    if record.response is not None and record.status_code is not None:
        return Replay(record.status_code, record.response)
    if record.resource_id is not None and record.created_at < now - abandoned_after:
        return Abandoned(record, record.resource_id)
    raise Conflict(IN_PROGRESS)


async def claim(
    session: AsyncSession,
    user_id: uuid.UUID,
    scope: str,
    key: str,
    digest: str,
    resource_id: uuid.UUID,
) -> IdempotencyKey:
    """Record the key in the caller's transaction. A concurrent request that claimed it first
    wins (PostgreSQL makes this one wait for its commit); this one then gets 409. The user's
    keys past `KEEP_FOR` go now (each held a whole answer, and none was deleted unless the
    same key came again): the table holds about a day of each user's keys."""
    await session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.created_at < utcnow() - KEEP_FOR)
        .execution_options(synchronize_session=False)
    )
    record = IdempotencyKey(
        user_id=user_id, scope=scope, key=key, request_hash=digest, resource_id=resource_id
    )
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(IN_PROGRESS) from exc
    return record


def remember(record: IdempotencyKey, status_code: int, body: dict[str, Any]) -> None:
    record.status_code = status_code
    record.response = body


async def answer(
    session: AsyncSession,
    user_id: uuid.UUID,
    scope: str,
    key: str,
    status_code: int,
    body: dict[str, Any],
) -> None:
    """Keep the answer of a key claimed in an earlier, committed transaction (the first answer
    stays: one rebuilt meanwhile is not replaced)."""
    await session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.response.is_(None),
        )
        .values(status_code=status_code, response=body)
    )
