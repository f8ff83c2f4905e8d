"""Which Flint user an Auth0 access token is: its ``sub``, mapped to the local user.

A known ``sub`` is found by ``users.auth0_sub`` (kept in the shared cache like the principal
state, so a request with a known one makes no query). On first sight the user's email comes from
the token or, as Auth0 access tokens often carry none, from the tenant's ``/userinfo``:

* no local user has that email: one is created, without a password (`NO_PASSWORD`: local
  sign-in and password reset refuse it), named after the profile's ``name``;
* a local user has it: it is linked only when Auth0 says ``email_verified: true``; otherwise the
  token is refused with 409 and nothing changes (an unverified address must not take over an
  account, and one email never becomes two accounts).

Two first requests of one new user at once create one user: ``auth0_sub`` is unique, and the
loser of the race reads the winner's row.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from cashews import Cache
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flint.db import READ_ONLY
from flint.errors import Conflict, Unauthorized
from flint.kit.secrets import token_digest
from flint.kit.time import utcnow
from flint.users.auth0 import INVALID, Auth0Claims, Auth0Verifier
from flint.users.models import NO_PASSWORD, ClosedAuth0User, User
from flint.users.tokens import AccessClaims

log = structlog.get_logger(__name__)

SUBJECT_KEY = "flint:auth0:{sub}"
MAX_EMAIL = 320
MAX_NAME = 200


class EmailNotVerified(Conflict):
    """An Auth0 user whose unverified email is a local account's: linking waits for Auth0 to
    verify the address (a verified one links on the next request)."""

    title, slug = "Email not verified", "email-not-verified"


class Auth0Users:
    def __init__(
        self,
        verifier: Auth0Verifier,
        cache: Cache,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        ttl: int,
        *,
        only: bool = False,
    ) -> None:
        self.verifier = verifier
        self.cache = cache
        self.sessions = sessions
        self.ttl = ttl
        self.only = only
        """Auth0 is the only sign-in: every bearer token is taken for an Auth0 one."""
        self._reader = engine.execution_options(**READ_ONLY)

    def accepts(self, token: str) -> bool:
        """Whether ``token`` is for this verifier rather than Flint's own token issuer."""
        return self.only or self.verifier.looks_like(token)

    async def claims(self, token: str) -> AccessClaims:
        """The claims of a valid Auth0 ``token``, naming its local user; 401 otherwise. They
        carry no token version: a password reset ends Flint's sign-ins, not Auth0's."""
        claims = await self.verifier.verify(token)
        return AccessClaims(user_id=await self.user_id(token, claims), token_version=None, jti="")

    async def user_id(self, token: str, claims: Auth0Claims) -> uuid.UUID:
        key = SUBJECT_KEY.format(sub=claims.sub)
        cached: Any = await self.cache.get(key) if self.ttl else None
        if isinstance(cached, str):
            return uuid.UUID(cached)
        user_id = await self._known(claims.sub) or await self._first_sight(token, claims)
        if self.ttl:
            await self.cache.set(key, str(user_id), expire=self.ttl)
        return user_id

    async def _known(self, sub: str) -> uuid.UUID | None:
        async with self._reader.connect() as conn:
            found: uuid.UUID | None = (
                await conn.execute(select(User.id).where(User.auth0_sub == sub))
            ).scalar_one_or_none()
        return found

    async def forget(self, sub: str) -> None:
        """Call after committing the deletion of the user ``sub`` names."""
        await self.cache.delete(SUBJECT_KEY.format(sub=sub))

    async def _closed_since(self, claims: Auth0Claims) -> bool:
        """Whether ``sub``'s Flint account was closed after the token was issued."""
        async with self._reader.connect() as conn:
            closed = (
                await conn.execute(
                    select(ClosedAuth0User.closed_at).where(
                        ClosedAuth0User.sub_digest == token_digest(claims.sub)
                    )
                )
            ).scalar_one_or_none()
        if closed is None:
            return False
        return claims.issued_at is None or claims.issued_at <= closed.timestamp()

    async def _first_sight(self, token: str, claims: Auth0Claims) -> uuid.UUID:
        if await self._closed_since(claims):
            log.info("auth0_token_of_closed_account")
            raise Unauthorized(INVALID)
        email, verified, name = claims.email, claims.email_verified, None
        if email is None:
            profile = await self.verifier.userinfo(token)
            if profile.get("sub") != claims.sub:
                raise Unauthorized(INVALID)
            email, verified = _email(profile.get("email")), profile.get("email_verified") is True
            name = _name(profile.get("name"))
        if email is None:
            raise Unauthorized(
                "Auth0 did not tell Flint your email address: sign in with the `openid email` "
                "scopes, to an Auth0 connection that has one."
            )
        async with self.sessions() as session:
            try:
                user_id = await self._link_or_create(session, claims.sub, email, verified, name)
                await session.commit()
            except IntegrityError:  # a concurrent first request of this user won the race
                await session.rollback()
                found = await self._known(claims.sub)
                if found is None:
                    raise Conflict("An account with this email already exists.") from None
                return found
        return user_id

    async def _link_or_create(
        self, session: AsyncSession, sub: str, email: str, verified: bool, name: str | None
    ) -> uuid.UUID:
        existing = (
            await session.execute(select(User).where(func.lower(User.email) == email))
        ).scalar_one_or_none()
        if existing is not None:
            if existing.auth0_sub == sub:  # a concurrent first request linked or created it
                return existing.id
            if existing.auth0_sub is not None:
                raise Conflict(
                    "The account with this email is linked to another Auth0 user; sign in as "
                    "that one."
                )
            if not verified:
                raise EmailNotVerified(
                    "An account with this email already exists. Verify your email address with "
                    "Auth0 to link it, or sign in with its password."
                )
            existing.auth0_sub = sub
            await session.flush()
            log.info("auth0_user_linked", user_id=str(existing.id))
            return existing.id
        user = User(
            email=email,
            hashed_password=NO_PASSWORD,
            full_name=name,
            auth0_sub=sub,
            last_login=utcnow(),
        )
        session.add(user)
        await session.flush()
        log.info("auth0_user_created", user_id=str(user.id))
        return user.id


def _email(value: object) -> str | None:
    """Lower-cased like the local accounts' addresses; anything else is no address."""
    if not isinstance(value, str) or "@" not in value or len(value.strip()) > MAX_EMAIL:
        return None
    return value.strip().lower()


def _name(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_NAME]
