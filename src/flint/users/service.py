from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import NotFound
from flint.users.models import User
from flint.users.schemas import (
    LinkedAccountSummary,
    NotificationPreferences,
    NotificationPreferencesPatch,
    Preferences,
    UpdateMe,
    UserProfile,
)

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


class NotificationSwitches(Protocol):
    """The profile's two notification switches, kept by the notifications feature (above
    this one) with the rest of where a user's notifications go: ``read`` answers (email, SMS);
    ``write`` turns either on or off for every kind (None: as it is), a 422 at ``at`` when it
    cannot."""

    async def read(self, session: AsyncSession, user_id: uuid.UUID) -> tuple[bool, bool]: ...

    async def write(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        *,
        email: bool | None,
        sms: bool | None,
        at: str,
    ) -> None: ...


DEFAULT_SWITCHES = NotificationPreferences()
"""What ``preferences.notifications: null`` (or ``preferences: null``) puts back."""


@dataclass(frozen=True)
class Profiles:
    """How a profile is put together and changed; the composition root names who lists the
    accounts and who keeps the notification switches."""

    notifications: NotificationSwitches
    accounts: AccountSummaries = no_accounts

    async def of(self, session: AsyncSession, user: User) -> UserProfile:
        email, sms = await self.notifications.read(session, user.id)
        stored = Preferences.model_validate(user.preferences)
        return UserProfile(
            user_id=user.id,
            name=user.full_name,
            email=user.email,
            accounts=await self.accounts(session, user.id),
            created_at=user.created_at,
            last_login=user.last_login,
            preferences=Preferences(
                theme=stored.theme, notifications=NotificationPreferences(email=email, sms=sms)
            ),
        )

    async def update(self, session: AsyncSession, user: User, patch: UpdateMe) -> User:
        """Change what the patch names (JSON merge patch: ``null`` puts a preference, or a
        group of them, back to its default). The notification switches turn email or SMS on
        or off for every kind of notification at once."""
        if "name" in patch.model_fields_set:
            user.full_name = patch.name
        if "preferences" in patch.model_fields_set:
            wanted = patch.preferences
            if wanted is None or "theme" in wanted.model_fields_set:
                theme = wanted.theme if wanted is not None else None
                # A new dict, so SQLAlchemy sees the JSON column change.
                user.preferences = {"theme": theme or Preferences().theme}
            if wanted is None or "notifications" in wanted.model_fields_set:
                await self._switch(session, user, wanted.notifications if wanted else None)
        await session.flush()
        return user

    async def _switch(
        self, session: AsyncSession, user: User, wanted: NotificationPreferencesPatch | None
    ) -> None:
        sent = wanted.model_fields_set if wanted is not None else {"email", "sms"}

        def switch(name: str, default: bool) -> bool | None:
            if name not in sent:
                return None
            value = getattr(wanted, name) if wanted is not None else None
            return default if value is None else bool(value)

        await self.notifications.write(
            session,
            user.id,
            email=switch("email", DEFAULT_SWITCHES.email),
            sms=switch("sms", DEFAULT_SWITCHES.sms),
            at="body.preferences.notifications",
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
