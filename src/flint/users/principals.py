"""Who a bearer token names, answered without the request's transaction.

Every authenticated request checks that its token's user still exists, is active and has
not ended its tokens since (``token_version``). That state changes rarely, so it is kept in
the shared cache (Redis when configured, so every API process sees the same) for
``principal_cache_seconds`` and dropped as soon as it changes (``forget``, after the commit
that changes it). A miss reads the two columns on a connection of its own, which on SQLite
is a deferred (read) transaction: checking a token never waits for a writer.
"""

from __future__ import annotations

import uuid
from typing import Any

from cashews import Cache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from flint.db import READ_ONLY
from flint.errors import Unauthorized
from flint.users.models import User
from flint.users.tokens import TokenIssuer

PRINCIPAL_KEY = "flint:principal:{user_id}"
INVALID = "The access token is invalid or has expired."


def principal_key(user_id: uuid.UUID) -> str:
    return PRINCIPAL_KEY.format(user_id=user_id)


class Principals:
    def __init__(self, tokens: TokenIssuer, cache: Cache, engine: AsyncEngine, ttl: int) -> None:
        self.tokens = tokens
        self.cache = cache
        self.ttl = ttl
        self._reader = engine.execution_options(**READ_ONLY)

    async def authenticate(self, token: str) -> uuid.UUID:
        """The id of the active user ``token`` names; 401 for anything else."""
        claims = self.tokens.verify(token)
        key = principal_key(claims.user_id)
        state: Any = await self.cache.get(key) if self.ttl else None
        if state is None:
            state = await self._load(claims.user_id)
            if self.ttl:
                await self.cache.set(key, state, expire=self.ttl)
        if not state or state.get("version") != claims.token_version:
            raise Unauthorized(INVALID)
        return claims.user_id

    async def forget(self, user_id: uuid.UUID) -> None:
        """Call after committing a change to the user's ``is_active`` or ``token_version``."""
        await self.cache.delete(principal_key(user_id))

    async def _load(self, user_id: uuid.UUID) -> dict[str, int]:
        """``{}`` for a user that is gone or inactive (cached too: a deleted user's tokens
        keep failing without a query each)."""
        async with self._reader.connect() as conn:
            row = (
                await conn.execute(
                    select(User.is_active, User.token_version).where(User.id == user_id)
                )
            ).first()
        if row is None or not row.is_active:
            return {}
        return {"version": row.token_version}
