"""Who a bearer token names, answered without the request's transaction.

Every authenticated request checks that its token's user still exists, is active, has not ended
all its tokens since (``token_version``: a password reset) and has not ended the token's own
sign-in (signing out, or a stolen refresh token replayed: the ``fam`` claim names the sign-in).
That state changes rarely, so it is kept in the shared cache (Redis when configured, so every
API process sees the same) for ``principal_cache_seconds`` and dropped as soon as it changes
(``forget``, after the commit that changes it). A miss reads it on a connection of its own, which
on SQLite is a deferred (read) transaction: checking a token never waits for a writer.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from cashews import Cache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flint.db import READ_ONLY
from flint.errors import Unauthorized
from flint.kit.time import utcnow
from flint.users.auth0_users import Auth0Users
from flint.users.models import User
from flint.users.tokens import LEEWAY_SECONDS, AccessClaims, TokenIssuer

PRINCIPAL_KEY = "flint:principal:{user_id}"
INVALID = "The access token is invalid or has expired."

EndedSessions = Callable[[AsyncConnection, uuid.UUID, datetime], Awaitable[Collection[str]]]
"""The user's sign-ins (as in the tokens' ``fam`` claim) ended since the given time; the auth
feature, above this one, keeps them and answers."""


async def no_ended_sessions(
    conn: AsyncConnection, user_id: uuid.UUID, since: datetime
) -> list[str]:
    return []


@functools.lru_cache(maxsize=4096)
def principal_key(user_id: uuid.UUID) -> str:
    """The cache key of the user's sign-in state (formatting a UUID costs more than the cache
    read it names: made once per user and process)."""
    return PRINCIPAL_KEY.format(user_id=user_id)


class Principals:
    def __init__(
        self,
        tokens: TokenIssuer,
        cache: Cache,
        engine: AsyncEngine,
        ttl: int,
        ended_sessions: EndedSessions = no_ended_sessions,
        auth0: Auth0Users | None = None,
    ) -> None:
        self.tokens = tokens
        self.cache = cache
        self.ttl = ttl
        self.ended_sessions = ended_sessions
        self.auth0 = auth0
        """Set when Auth0 is configured: its tokens name users too (`flint.users.auth0_users`)."""
        self._reader = engine.execution_options(**READ_ONLY)

    async def authenticate(self, token: str) -> uuid.UUID:
        """The id of the active user ``token`` names; 401 for anything else."""
        return (await self.claims(token)).user_id

    async def claims(self, token: str) -> AccessClaims:
        """What a valid ``token`` of a live sign-in says; 401 for anything else."""
        if self.auth0 is not None and self.auth0.accepts(token):
            claims = await self.auth0.claims(token)
        else:
            claims = self.tokens.verify(token)
        if not await self.signed_in(claims):
            raise Unauthorized(INVALID)
        return claims

    async def signed_in(self, claims: AccessClaims) -> bool:
        """Whether the sign-in that ``claims`` came from is still alive (whatever the token's
        expiry): what a long-lived connection checks again and again."""
        state = await self._state(claims.user_id)
        if not state:
            return False
        if claims.token_version is not None and state.get("version") != claims.token_version:
            return False
        return claims.session is None or claims.session not in state.get("ended", ())

    async def active(self, user_id: uuid.UUID) -> bool:
        """Whether the user exists and is active: all an API key's user must be (a key has no
        token version nor sign-in to end)."""
        return bool(await self._state(user_id))

    async def _state(self, user_id: uuid.UUID) -> Mapping[str, Any]:
        """The user's sign-in state, read only (the in-process cache hands out the object it
        keeps)."""
        key = principal_key(user_id)
        state: Any = await self.cache.get(key) if self.ttl else None
        if state is None:
            state = await self._load(user_id)
            if self.ttl:
                await self.cache.set(key, state, expire=self.ttl)
        return cast("Mapping[str, Any]", state)

    async def forget(self, user_id: uuid.UUID, auth0_sub: str | None = None) -> None:
        """Call after committing a change to the user's ``is_active`` or ``token_version``, or
        after ending one of the user's sign-ins; with ``auth0_sub``, after deleting the user
        (the Auth0 user it named is looked up again)."""
        await self.cache.delete(principal_key(user_id))
        if auth0_sub is not None and self.auth0 is not None:
            await self.auth0.forget(auth0_sub)

    async def _load(self, user_id: uuid.UUID) -> dict[str, Any]:
        """``{}`` for a user that is gone or inactive (cached too: a deleted user's tokens
        keep failing without a query each). Sign-ins ended longer ago than an access token
        lives have no token left to refuse, so only the recent ones are kept."""
        since = utcnow() - self.tokens.ttl - timedelta(seconds=LEEWAY_SECONDS)
        async with self._reader.connect() as conn:
            row = (
                await conn.execute(
                    select(User.is_active, User.token_version).where(User.id == user_id)
                )
            ).first()
            if row is None or not row.is_active:
                return {}
            ended = sorted(await self.ended_sessions(conn, user_id, since))
        state: dict[str, Any] = {"version": row.token_version}
        if ended:
            state["ended"] = ended
        return state
