"""Application-wide dependencies: the runtime (settings and shared clients) and the caller."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from cashews import Cache
from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flint.accounts.service import Accounts
from flint.auth.service import AuthConfig
from flint.auth.throttle import LoginThrottle
from flint.config import Settings
from flint.db import SessionDep
from flint.errors import Unauthorized
from flint.market.service import MarketData
from flint.market.stream import QuoteHub
from flint.portfolio.workers import PerformancePool
from flint.users.models import User
from flint.users.principals import INVALID, Principals


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
    principals: Principals
    accounts: Accounts
    performance: PerformancePool | None = None
    """Where portfolio performance is computed; None computes in this process."""

    async def aclose(self) -> None:
        """Release what the runtime holds: the quote stream's tasks (they use everything
        below), vendor clients, the cache, the database pool."""
        await self.stream.stop()
        if self.performance is not None:
            self.performance.close()
        await self.accounts.providers.aclose()
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


SIGN_IN_HINT = "Sign in and send the access token as `Authorization: Bearer <token>`."


async def get_current_user_id(
    runtime: RuntimeDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> uuid.UUID:
    """The caller, for routes that need only who it is: no database transaction when the
    caller's sign-in state is cached (see ``flint.users.principals``)."""
    if not token:
        raise Unauthorized(SIGN_IN_HINT)
    return await runtime.principals.authenticate(token)


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def get_current_user(session: SessionDep, user_id: CurrentUserId) -> User:
    """The caller's row, loaded in the request's transaction (for routes that read or change
    the user)."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized(INVALID)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
