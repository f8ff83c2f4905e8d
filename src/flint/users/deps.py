"""Who is calling: the bearer token's user, for every route that needs a signed-in caller."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from flint.errors import Unauthorized
from flint.runtime import Runtime
from flint.users.keys import ApiKeys, looks_like_key
from flint.users.models import User
from flint.users.principals import INVALID, Principals
from flint.users.service import Profiles
from flint.web import SessionDep, part

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    scheme_name="bearer",
    description="An access token from `POST /api/v1/auth/login` or the Authorize button.",
)

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="An API key (`flint_…`) from `POST /api/v1/api-keys`; also accepted as "
    "`Authorization: Bearer flint_…`. Each operation names the scope it needs (`x-flint-scope`).",
)

SIGN_IN_HINT = "Sign in and send the access token as `Authorization: Bearer <token>`."

PrincipalsDep = Annotated[Principals, Depends(part(Principals))]
ApiKeysDep = Annotated[ApiKeys, Depends(part(ApiKeys))]


async def get_current_user_id(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    request: Request,
    api_key: Annotated[str | None, Depends(api_key_header)],
    later: BackgroundTasks,
) -> uuid.UUID:
    """The caller, for routes that need only who it is: no database transaction when the
    caller's sign-in state is cached (see `flint.users.principals`). An API key must also hold
    the scope the route declares (see `flint.users.keys`).

    The runtime's parts are taken from the request rather than declared as dependencies: this
    runs on every signed-in request, and each dependency FastAPI resolves costs a nested
    solve (about 20 µs each on a small machine), more than the lookup itself."""
    runtime: Runtime = request.app.state.runtime
    if api_key is not None or looks_like_key(token):
        key = api_key if api_key is not None else token
        return await runtime.get(ApiKeys).authorize(
            key or "", request.scope.get("route"), request.method, later.add_task
        )
    if not token:
        raise Unauthorized(SIGN_IN_HINT)
    return await runtime.get(Principals).authenticate(token)


CurrentUserId = Annotated[uuid.UUID, Depends(get_current_user_id)]


async def get_current_user(session: SessionDep, user_id: CurrentUserId) -> User:
    """The caller's row, loaded in the request's transaction (for routes that read or change
    the user)."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized(INVALID)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


ProfilesDep = Annotated[Profiles, Depends(part(Profiles))]
