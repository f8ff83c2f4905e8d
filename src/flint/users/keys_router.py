"""Managing API keys: only a signed-in person may (a key can never make, list or revoke keys)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from flint.db import after_commit
from flint.errors import problem_responses
from flint.users import keys
from flint.users.deps import ApiKeysDep, CurrentUserId
from flint.users.keys_schemas import ApiKeyList, ApiKeyOut, CreateApiKey, CreatedApiKey
from flint.users.scopes import SESSION
from flint.web import SessionDep

router = APIRouter(prefix="/api-keys", tags=["api-keys"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (shown once)",
    description="Answers the key itself only now: Flint keeps only its SHA-256. Send it as "
    "`X-API-Key: flint_…` or `Authorization: Bearer flint_…`. At most 25 keys at once (409).",
    responses=problem_responses(400, 401, 403, 409, 422),
    openapi_extra=SESSION,
)
async def create_api_key(
    body: CreateApiKey, user_id: CurrentUserId, session: SessionDep
) -> CreatedApiKey:
    row, key = await keys.create(session, user_id, body.name, body.scopes, body.expires_at)
    return CreatedApiKey(**ApiKeyOut.of(row).model_dump(by_alias=False), key=key)


@router.get(
    "",
    summary="Your API keys, newest first (never the keys themselves)",
    responses=problem_responses(401, 403),
    openapi_extra=SESSION,
)
async def list_api_keys(user_id: CurrentUserId, session: SessionDep) -> ApiKeyList:
    rows = await keys.list_keys(session, user_id)
    return ApiKeyList(api_keys=[ApiKeyOut.of(row) for row in rows])


@router.delete(
    "/{keyId}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    description="It stops working at once, in every API process.",
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=SESSION,
)
async def revoke_api_key(
    keyId: uuid.UUID, user_id: CurrentUserId, session: SessionDep, api_keys: ApiKeysDep
) -> None:
    digest = await keys.revoke(session, user_id, keyId)
    after_commit(session, lambda: api_keys.forget(digest))
