"""Sign-in state: refresh and reset tokens, and the second factor (TOTP, recovery codes, the
challenge between the password and the code). Every secret is kept as a digest or sealed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, UUIDPk
from flint.kit.time import utcnow


class RefreshToken(UUIDPk, Base):
    """One opaque refresh token, kept only as a digest. A family is every token from one login."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    successor: Mapped[str | None] = mapped_column(Text)
    """The pair this token was exchanged for, sealed with a key derived from this token (which
    is not kept), so that only its holder can open it: the answer to a second exchange within
    the grace period."""


class PasswordResetToken(UUIDPk, Base):
    __tablename__ = "password_reset_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class TwoFactor(Base):
    """A user's TOTP second factor. The secret is sealed with the runtime's credential box
    (never plain text: a copy of the database alone yields no codes). Pending while
    `enabled_at` is null: setup stores it, and only a first valid code turns it on."""

    __tablename__ = "two_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sealed_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    enabled_at: Mapped[datetime | None]
    last_time_step: Mapped[int | None]
    """The newest TOTP time step accepted: a code of that step or an older one is a replay."""


class RecoveryCode(UUIDPk, Base):
    """One single-use recovery code, kept as an HMAC-SHA-256 digest keyed with the user's TOTP
    secret (so the digests alone cannot be searched for the codes)."""

    __tablename__ = "two_factor_recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)  # also the user's index

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class TwoFactorChallenge(UUIDPk, Base):
    """The mfaToken a correct password earns when 2FA is on: opaque, kept as a digest, good for
    `/auth/2fa/verify` only, and gone once that succeeds."""

    __tablename__ = "two_factor_challenges"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class SignIn(Base):
    """One sign-in (the refresh-token family it started, whose id it shares): the device it
    came from and when it was last used, what `GET /auth/sessions` lists. It lives as long as
    its newest refresh token is neither spent, revoked nor expired."""

    __tablename__ = "sign_ins"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When its tokens were last exchanged (or the sign-in itself)."""
    method: Mapped[str | None] = mapped_column(String(16))
    """How it began: ``password``, ``two_factor`` or ``password_change`` (None for the sign-ins
    that began before Flint kept it)."""
    user_agent: Mapped[str | None] = mapped_column(String(256))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    """The address it was last used from, as this server saw it."""
