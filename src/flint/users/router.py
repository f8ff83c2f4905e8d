from __future__ import annotations

import uuid

from fastapi import APIRouter

from flint.errors import problem_responses
from flint.users import service
from flint.users.deps import CurrentUser, ProfilesDep
from flint.users.schemas import UpdateMe, UserProfile
from flint.web import SessionDep

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", summary="Your profile", responses=problem_responses(401))
async def read_me(user: CurrentUser, session: SessionDep, profiles: ProfilesDep) -> UserProfile:
    return await profiles.of(session, user)


@router.patch(
    "/me",
    summary="Update your name and preferences",
    responses=problem_responses(400, 401, 422),
)
async def update_me(
    body: UpdateMe, user: CurrentUser, session: SessionDep, profiles: ProfilesDep
) -> UserProfile:
    updated = await profiles.update(session, user, body)
    return await profiles.of(session, updated)


@router.get(
    "/{userId}",
    summary="A user's profile with their linked accounts",
    description="Only the user (or a superuser) may read it; anyone else gets 404.",
    responses=problem_responses(401, 404, 422),
)
async def get_user(
    userId: uuid.UUID, user: CurrentUser, session: SessionDep, profiles: ProfilesDep
) -> UserProfile:
    target = await service.visible_user(session, user, userId)
    return await profiles.of(session, target)
