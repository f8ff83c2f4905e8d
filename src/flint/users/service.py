from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import NotFound
from flint.users.models import User
from flint.users.schemas import LinkedAccountSummary, Preferences, UpdateMe, UserProfile

AccountSummaries = Callable[[AsyncSession, uuid.UUID], Awaitable[list[LinkedAccountSummary]]]
"""A user's linked accounts, for the profile (the accounts feature, above this one, answers)."""


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Queue this transaction behind any other holding the user's row (PostgreSQL; SQLite has
    one writer at a time): concurrent adds of one user that check what the user has first. FOR
    NO KEY UPDATE, so inserts referencing the user still go on."""
    if session.get_bind().dialect.name == "postgresql":
        lock = select(User.id).where(User.id == user_id).with_for_update(key_share=True)
        await session.execute(lock)


async def no_accounts(session: AsyncSession, user_id: uuid.UUID) -> list[LinkedAccountSummary]:
    return []


@dataclass(frozen=True)
class Profiles:
    """How a profile is put together; the composition root names who lists the accounts."""

    accounts: AccountSummaries = no_accounts

    async def of(self, session: AsyncSession, user: User) -> UserProfile:
        return UserProfile(
            user_id=user.id,
            name=user.full_name,
            email=user.email,
            accounts=await self.accounts(session, user.id),
            created_at=user.created_at,
            last_login=user.last_login,
            preferences=Preferences.model_validate(user.preferences),
        )


async def visible_user(session: AsyncSession, caller: User, user_id: uuid.UUID) -> User:
    """The user the caller may read: themselves, or anyone for a superuser; otherwise 404."""
    if user_id == caller.id:
        return caller
    if caller.is_superuser:
        found = await session.get(User, user_id)
        if found is not None:
            return found
    raise NotFound(f"No user {user_id}.")


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 merge: nested objects merge, `None` removes the key (so its default applies)."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            merged[key] = _merge(merged.get(key) or {}, value)
        else:
            merged[key] = value
    return merged


async def update_me(session: AsyncSession, user: User, patch: UpdateMe) -> User:
    if "name" in patch.model_fields_set:
        user.full_name = patch.name
    if "preferences" in patch.model_fields_set:
        merged: dict[str, Any] = {}  # `preferences: null` puts every preference back to default
        if patch.preferences is not None:
            current = Preferences.model_validate(user.preferences).model_dump(by_alias=False)
            changes = patch.preferences.model_dump(exclude_unset=True, by_alias=False)
            merged = _merge(current, changes)
        # A new dict, so SQLAlchemy sees the JSON column change.
        user.preferences = Preferences.model_validate(merged).model_dump(by_alias=False)
    await session.flush()
    return user
