from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, UUIDPk
from flint.kit.time import utcnow


class OutboxMessage(UUIDPk, Base):
    """A message to deliver, written in the same transaction as the change that caused it.
    ``channel`` is ``email`` (recipient: an address) or ``sms`` (recipient: an E.164 number);
    ``payload`` carries what delivery learns on the way (the provider's message id, whether an
    attempt may have reached the provider)."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_status_created", "status", "created_at"),)

    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Notification(UUIDPk, Base):
    """What the user sees in the app: every notification, whatever else was sent."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_page", "user_id", "created_at", "id"),
        Index("ix_notifications_user_unread", "user_id", "read_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationPreference(Base):
    """One user's channel choices per kind (kinds missing from ``channels`` take the defaults)
    and the phone number SMS go to."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    phone_number: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
