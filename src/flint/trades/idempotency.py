"""``Idempotency-Key`` with Stripe's semantics, for Flint's mutating endpoints.

The first answer to a key (status and body) is kept and replayed for 24 hours; the same key
with a different request is a 422; while the first request with a key is still being
answered, another with that key gets 409 and may retry. Nothing is kept for a request that
fails validation. Keys belong to a user and a scope (the operation).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import Conflict, ValidationFailed
from flint.kit.time import utcnow
from flint.trades.models import IdempotencyKey

KEEP_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def request_hash(fingerprint: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        detail = f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters."
        raise ValidationFailed.at("header.Idempotency-Key", detail)
    return key


async def lookup(
    session: AsyncSession, user_id: uuid.UUID, scope: str, key: str, digest: str
) -> Replay | None:
    """The stored answer to replay, None for a new key; 422 for another request under the
    key, 409 while the first is in flight. Expired keys are forgotten."""
    stmt = select(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id, IdempotencyKey.scope == scope, IdempotencyKey.key == key
    )
    record = (await session.execute(stmt)).scalar_one_or_none()
    if record is None:
        return None
    if record.created_at < utcnow() - KEEP_FOR:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record.id))
        return None
    if record.request_hash != digest:
        detail = "This Idempotency-Key was used with a different request."
        raise ValidationFailed.at("header.Idempotency-Key", detail)
    if record.response is None or record.status_code is None:
        raise Conflict("A request with this Idempotency-Key is still in progress; retry shortly.")
    return Replay(record.status_code, record.response)


async def claim(
    session: AsyncSession,
    user_id: uuid.UUID,
    scope: str,
    key: str,
    digest: str,
    resource_id: uuid.UUID,
) -> IdempotencyKey:
    """Record the key in the caller's transaction. A concurrent request that claimed it first
    wins (PostgreSQL makes this one wait for its commit); this one then gets 409."""
    record = IdempotencyKey(
        user_id=user_id, scope=scope, key=key, request_hash=digest, resource_id=resource_id
    )
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry shortly."
        ) from exc
    return record


def remember(record: IdempotencyKey, status_code: int, body: dict[str, Any]) -> None:
    record.status_code = status_code
    record.response = body
