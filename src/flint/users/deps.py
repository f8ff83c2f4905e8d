"""Who is calling: the bearer token's user, for every route that needs a signed-in caller."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from fastapi.security.utils import get_authorization_scheme_param

from flint.errors import Unauthorized
from flint.runtime import Runtime
from flint.users.keys import ApiKeys, looks_like_key
from flint.users.models import User
from flint.users.principals import INVALID, Principals
from flint.users.service import Profiles
from flint.users.tokens import TokenIssuer
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


SECURITY: list[dict[str, list[str]]] = [
    {oauth2_scheme.scheme_name: []},
    {api_key_header.scheme_name: []},
]
"""The OpenAPI ``security`` of every signed-in operation (`flint.users.scopes.declare_scopes`),
whose ``securitySchemes`` are `security_schemes()`."""


def security_schemes() -> dict[str, Any]:
    """The OpenAPI ``components.securitySchemes`` the signed-in operations name."""
    return {
        scheme.scheme_name: jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)
        for scheme in (oauth2_scheme, api_key_header)
    }


def _bearer(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, as `oauth2_scheme` reads it."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    return token if scheme.lower() == "bearer" and token else None


async def get_current_user_id(request: Request, later: BackgroundTasks) -> uuid.UUID:
    """The caller, for routes that need only who it is: no database transaction when the
    caller's sign-in state is cached (see `flint.users.principals`). An API key must also hold
    the scope the route declares (see `flint.users.keys`).

    The headers and the runtime's parts are taken from the request rather than declared as
    dependencies (`oauth2_scheme`, `api_key_header`, `part(...)`): this runs on every signed-in
    request, and each dependency FastAPI resolves costs a nested solve (about 20 µs each on a
    small machine), more than the lookup itself. The OpenAPI document declares the two
    schemes all the same (`SECURITY`)."""
    token = _bearer(request)
    api_key = request.headers.get(api_key_header.model.name)
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


def bearer_session(request: Request, tokens: TokenIssuer) -> uuid.UUID | None:
    """The sign-in (``fam`` claim) of the request's bearer token, once `get_current_user_id`
    has accepted it; None for an API key or a token Flint did not issue (Auth0's)."""
    token = _bearer(request)
    if not token or looks_like_key(token):
        return None
    try:
        claims = tokens.verify(token)
    except Unauthorized:
        return None
    return uuid.UUID(claims.session) if claims.session else None


async def get_current_user(session: SessionDep, user_id: CurrentUserId) -> User:
    """The caller's row, loaded in the request's transaction (for routes that read or change
    the user)."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise Unauthorized(INVALID)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


ProfilesDep = Annotated[Profiles, Depends(part(Profiles))]
