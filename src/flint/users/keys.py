"""Scoped API keys: creating, listing and revoking them, and authenticating a request by one.

A key is ``flint_`` and 32 random bytes (base64url), shown once. Flint keeps its SHA-256 (256
random bits need no slow hash) and its first characters for the listing. What a key grants
(its user, scopes and expiry) is cached like the principals' state (Redis when configured) and
dropped after the commit that revokes it, so a revoked key fails at once in every process.
Keys outlive a password reset (they are separate credentials, listed with their last use, to
be revoked one by one); they stop with their user's deactivation and go with its deletion.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from cashews import Cache
from fastapi.routing import APIRoute
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from flint.db import READ_ONLY
from flint.errors import Conflict, Forbidden, NotFound, Unauthorized
from flint.kit.time import utcnow
from flint.users.models import ApiKey
from flint.users.principals import Principals
from flint.users.scopes import SESSION_ONLY, Scope, default_scope, scope_of

log = structlog.get_logger(__name__)

KEY_PREFIX = "flint_"
KEY_PATTERN = re.compile(r"flint_[A-Za-z0-9_-]{43}")
DISPLAY_CHARS = 12
"""``flint_`` and six random characters: enough to tell a user's keys apart, no help in guessing."""
MAX_KEYS = 25
"""Keys one user may hold at once: a script each is plenty, a leak of thousands is not."""
TOUCH_SECONDS = 60
"""``last used`` is written at most once a minute per key, not on every request."""
KEY_CACHE = "flint:apikey:{digest}"
TOUCH_CACHE = "flint:apikey-used:{key_id}"
INVALID = "The API key is invalid, revoked or expired."


def looks_like_key(credential: str | None) -> bool:
    """Whether a bearer credential is an API key rather than an access token (a JWT)."""
    return credential is not None and credential.startswith(KEY_PREFIX)


def new_key() -> str:
    random = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return KEY_PREFIX + random


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


# --- managing keys (the session routes) ---------------------------------------------------


async def create(
    session: AsyncSession,
    user_id: uuid.UUID,
    name: str,
    scopes: Iterable[Scope],
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    """A new key and its only showing; 409 past ``MAX_KEYS``."""
    held = await session.scalar(
        select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user_id)
    )
    if (held or 0) >= MAX_KEYS:
        raise Conflict(f"You hold {MAX_KEYS} API keys, the most allowed: revoke one first.")
    key = new_key()
    row = ApiKey(
        user_id=user_id,
        name=name,
        prefix=key[:DISPLAY_CHARS],
        key_hash=key_digest(key),
        scopes=" ".join(sorted({Scope(scope).value for scope in scopes})),
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row, key


async def list_keys(session: AsyncSession, user_id: uuid.UUID) -> list[ApiKey]:
    rows = await session.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == user_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id)
    )
    return list(rows)


async def revoke(session: AsyncSession, user_id: uuid.UUID, key_id: uuid.UUID) -> str:
    """Delete the caller's key (404 for anyone else's); answers its digest, to forget after
    the commit."""
    row = await session.get(ApiKey, key_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"No API key {key_id}.")
    digest = row.key_hash
    await session.delete(row)
    await session.flush()
    return digest


# --- authenticating by a key --------------------------------------------------------------


@dataclass(frozen=True)
class KeyGrant:
    """What a key lets its bearer do."""

    key_id: uuid.UUID
    user_id: uuid.UUID
    scopes: frozenset[str]
    expires_at: datetime | None


class ApiKeys:
    """The runtime part that checks keys: cached, read on a connection of its own."""

    def __init__(self, cache: Cache, engine: AsyncEngine, ttl: int, principals: Principals):
        self.cache = cache
        self.ttl = ttl
        self.principals = principals
        self._engine = engine
        self._reader = engine.execution_options(**READ_ONLY)

    async def authorize(
        self,
        key: str,
        route: Any,
        method: str,
        later: Callable[..., Any],
    ) -> uuid.UUID:
        """The user of a live ``key`` allowed to call ``route``: 401 for a bad key, 403 naming
        the scope it lacks. ``later`` runs work after the response (recording the use)."""
        grant = await self.authenticate(key)
        needed = scope_of(route) if isinstance(route, APIRoute) else default_scope([method])
        if needed == SESSION_ONLY:
            raise Forbidden(
                "API keys cannot call this operation: it manages the account's security. "
                "Sign in with your password (a `session`) to use it."
            )
        if needed not in grant.scopes:
            raise Forbidden(f"This API key lacks the `{needed}` scope this operation needs.")
        if await self._touch_due(grant.key_id):
            later(self.touch, grant.key_id)
        return grant.user_id

    async def authenticate(self, key: str) -> KeyGrant:
        if not KEY_PATTERN.fullmatch(key):
            raise Unauthorized(INVALID)
        digest = key_digest(key)
        cache_key = KEY_CACHE.format(digest=digest)
        state: Any = await self.cache.get(cache_key) if self.ttl else None
        if state is None:
            state = await self._load(digest)
            if state is None:
                raise Unauthorized(INVALID)
            if self.ttl:
                await self.cache.set(cache_key, state, expire=self.ttl)
        expires = datetime.fromisoformat(state["expires"]) if state.get("expires") else None
        grant = KeyGrant(
            key_id=uuid.UUID(state["id"]),
            user_id=uuid.UUID(state["user"]),
            scopes=frozenset(state["scopes"].split()),
            expires_at=expires,
        )
        if expires is not None and expires <= utcnow():
            raise Unauthorized(INVALID)
        if not await self.principals.active(grant.user_id):
            raise Unauthorized(INVALID)
        return grant

    async def forget(self, digest: str) -> None:
        """Call after committing a key's revocation."""
        await self.cache.delete(KEY_CACHE.format(digest=digest))

    async def touch(self, key_id: uuid.UUID) -> None:
        """Record a use, in a short transaction of its own (after the response)."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow())
                )
        except SQLAlchemyError as exc:  # a missed "last used" must not surface as an error
            log.warning("api_key_touch_failed", key_id=str(key_id), error=type(exc).__name__)

    async def _touch_due(self, key_id: uuid.UUID) -> bool:
        marker = TOUCH_CACHE.format(key_id=key_id)
        if await self.cache.get(marker) is not None:
            return False
        await self.cache.set(marker, 1, expire=timedelta(seconds=TOUCH_SECONDS))
        return True

    async def _load(self, digest: str) -> dict[str, Any] | None:
        async with self._reader.connect() as conn:
            row = (
                await conn.execute(
                    select(ApiKey.id, ApiKey.user_id, ApiKey.scopes, ApiKey.expires_at).where(
                        ApiKey.key_hash == digest
                    )
                )
            ).first()
        if row is None:
            return None
        return {
            "id": str(row.id),
            "user": str(row.user_id),
            "scopes": row.scopes,
            "expires": row.expires_at.isoformat() if row.expires_at else None,
        }
