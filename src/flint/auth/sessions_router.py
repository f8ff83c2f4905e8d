"""The account's signed-in devices: list them, end one (a lost phone, a shared computer)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, status

from flint.auth import sessions
from flint.auth.deps import AuthDep, no_store
from flint.auth.session_schemas import SignInList, SignInOut
from flint.errors import problem_responses
from flint.users.api import SESSION, CurrentUserId, bearer_session
from flint.web import SessionDep

router = APIRouter(prefix="/auth/sessions", tags=["auth"], dependencies=[Depends(no_store)])


@router.get(
    "",
    summary="Your signed-in devices",
    description="Every sign-in of the account still alive: when it began and how, the device "
    "(its User-Agent) and the address it was last used from, and which one asks (`current`). "
    "API keys are at `/api-keys`; an Auth0 sign-in is Auth0's and is not listed.",
    responses=problem_responses(401, 403),
    openapi_extra=SESSION,
)
async def list_sessions(
    user_id: CurrentUserId, session: SessionDep, config: AuthDep, request: Request
) -> SignInList:
    current = bearer_session(request, config.tokens)
    live = await sessions.live(session, user_id)
    return SignInList(sessions=[SignInOut.of(sign_in, current) for sign_in in live])


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out every other device",
    description="Every sign-in of the account but the one that asks ends at once, its refresh "
    "and access tokens in every API process (their quote streams close with 4401); this one "
    "goes on. With an Auth0 token, which is no Flint sign-in, every Flint sign-in ends. API "
    "keys stay (revoke them at `/api-keys`).",
    responses=problem_responses(401, 403),
    openapi_extra=SESSION,
)
async def end_other_sessions(
    user_id: CurrentUserId, session: SessionDep, config: AuthDep, request: Request
) -> None:
    current = bearer_session(request, config.tokens)
    await sessions.end_others(session, config.principals, user_id, current)


@router.delete(
    "/{sessionId}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out one device",
    description="Its refresh token and access tokens stop working at once, in every API "
    "process (its quote streams close with 4401); the other sign-ins go on. Ending the one "
    "that asks signs this device out. 404 for a session that is not alive or not yours.",
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=SESSION,
)
async def end_session(
    sessionId: uuid.UUID, user_id: CurrentUserId, session: SessionDep, config: AuthDep
) -> None:
    await sessions.end(session, config.principals, user_id, sessionId)
