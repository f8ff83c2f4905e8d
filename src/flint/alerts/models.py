"""Price alerts: a condition on one symbol's quote, armed until it fires, fired until the
condition has been false again."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, Price, UUIDPk
from flint.kit.time import utcnow


class Alert(UUIDPk, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_user_created", "user_id", "created_at"),
        Index("ix_alerts_symbol", "symbol"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(32))
    condition: Mapped[str] = mapped_column(String(16))
    """above, below or percent_change."""
    threshold: Mapped[Decimal] = mapped_column(Price())
    state: Mapped[str] = mapped_column(String(8), default="armed")
    """armed (fires when the condition holds) or fired (re-arms when it no longer holds)."""
    last_price: Mapped[Decimal | None] = mapped_column(Price())
    last_change_percent: Mapped[Decimal | None] = mapped_column(Price())
    last_quote_at: Mapped[datetime | None]
    """The timestamp of the newest quote evaluated: an older quote never changes the state."""
    last_fired_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
