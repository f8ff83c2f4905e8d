"""SnapTrade's webhooks as received: each verified event of a kind Flint handles, once.

`snaptrade_webhooks` keeps an event under SnapTrade's ``webhookId`` (the primary key: a repeated
delivery, concurrent or late, inserts nothing), what the worker needs to handle it (the user,
connection and account it names, when it happened, the payload) and when it was handled. The
connection and time also order the connection's state events: one older than a state event
already handled changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base
from flint.webhooks import Inbox


class SnapTradeWebhook(Inbox, Base):
    __tablename__ = "snaptrade_webhooks"
    __table_args__ = (
        Index("ix_snaptrade_webhooks_pending", "handled_at", "received_at"),
        Index("ix_snaptrade_webhooks_connection", "connection_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SnapTrade's ``webhookId``."""
    event_type: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(255))
    """SnapTrade's ``userId`` (Flint registers a user under its Flint id)."""
    connection_id: Mapped[str | None] = mapped_column(String(64))
    """The brokerage authorization (connection) the event is about."""
    account_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    """``eventTimestamp``."""
    payload: Mapped[dict[str, Any]]
