from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, Timestamped, UUIDPk
from flint.kit.time import utcnow

NO_PASSWORD = "!"  # noqa: S105 (a marker, not a password)
"""The ``hashed_password`` of a user without one: never an argon2 hash, so nothing verifies."""


def default_preferences() -> dict[str, Any]:
    """The profile's own preferences (where notifications go is the notification
    preferences', which the profile shows: `flint.users.service.Profiles`)."""
    return {"theme": "system"}


class User(UUIDPk, Timestamped, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320))
    hashed_password: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    is_superuser: Mapped[bool] = mapped_column(default=False)
    last_login: Mapped[datetime | None]
    preferences: Mapped[dict[str, Any]] = mapped_column(default=default_preferences)
    token_version: Mapped[int] = mapped_column(default=0)
    """Bumped when every session must end (password reset); access tokens carry it."""
    auth0_sub: Mapped[str | None] = mapped_column(String(255))
    """The Auth0 user (the tokens' ``sub``) this user signs in as, when linked."""

    @property
    def has_password(self) -> bool:
        """False for a user Auth0 created: local sign-in and password reset refuse it."""
        return self.hashed_password != NO_PASSWORD


# Case-insensitive uniqueness: "Ann@X.com" and "ann@x.com" are one account.
Index("uq_users_email_lower", func.lower(User.email), unique=True)
# One Flint user per Auth0 user: two first requests of a new one racing each other create one.
Index("uq_users_auth0_sub", User.auth0_sub, unique=True)


class ClosedAuth0User(Base):
    """An Auth0 user whose Flint account was closed, kept as the SHA-256 of its ``sub`` and
    when: Auth0's tokens issued before then name nobody (401) rather than a new, empty account
    made on their next use; signing in at Auth0 again makes one."""

    __tablename__ = "closed_auth0_users"

    sub_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    closed_at: Mapped[datetime]


class ApiKey(UUIDPk, Base):
    """A long-lived credential for scripts: only the SHA-256 of the key is kept (the key is 256
    random bits, so a slow hash would add nothing), with its first characters to tell keys
    apart. Revoking deletes the row; deleting the user deletes its keys."""

    __tablename__ = "api_keys"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(40))
    """Space-separated, as OAuth writes scopes: `read trade`."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
