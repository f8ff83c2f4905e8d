"""Application-wide dependencies: the runtime (settings and shared clients) and the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from cashews import Cache
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flint.auth.service import AuthConfig
from flint.auth.throttle import LoginThrottle
from flint.config import Settings
from flint.db import SessionDep
from flint.errors import Unauthorized
from flint.market.service import MarketData
from flint.market.stream import QuoteHub
from flint.users.models import User


@dataclass
class Runtime:
    """What the app builds once at start-up and every request shares."""

    settings: Settings
    cache: Cache
    market: MarketData
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    auth: AuthConfig
    login_throttle: LoginThrottle
    stream: QuoteHub

    async def aclose(self) -> None:
        """Release what the runtime holds: the quote stream's tasks (they use everything
        below), vendor clients, the cache, the database pool."""
        await self.stream.stop()
        await self.market.aclose()
        await self.cache.close()
        await self.engine.dispose()


async def get_runtime(request: Request) -> Runtime:
    """async, so FastAPI runs it on the loop rather than hopping to a worker thread."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    scheme_name="bearer",
    description="An access token from `POST /api/v1/auth/login` or the Authorize button.",
)


async def user_for_token(session: AsyncSession, auth: AuthConfig, token: str) -> User:
    """The active user an access token names, checked against the user's token version so
    that a sign-out everywhere or a password change ends every token issued before it."""
    claims = auth.tokens.verify(token)
    user = await session.get(User, claims.user_id)
    if user is None or not user.is_active or user.token_version != claims.token_version:
        raise Unauthorized("The access token is invalid or has expired.")
    return user


async def get_current_user(
    session: SessionDep, runtime: RuntimeDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    if not token:
        raise Unauthorized("Sign in and send the access token as `Authorization: Bearer <token>`.")
    return await user_for_token(session, runtime.auth, token)


CurrentUser = Annotated[User, Depends(get_current_user)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
