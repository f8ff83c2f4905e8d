"""A user's standing with Stripe, and the Stripe events received (each handled once).

`billing_accounts` has one row per user who started a checkout: the Stripe customer made for
them and the subscription as last known, with ``version``, the Stripe time (unix seconds) that
state describes, so a delivery older than what is held never replaces it. `billing_events`
keeps every verified event of a kind Flint handles under Stripe's event id (the primary key:
a repeated delivery inserts nothing), its payload for the worker, and when it was handled.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, Timestamped
from flint.webhooks import Inbox


class BillingAccount(Timestamped, Base):
    __tablename__ = "billing_accounts"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    """Stripe's customer (`cus_…`), made once, at the user's first checkout."""
    subscription_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(32))
    """Stripe's subscription status (active, trialing, past_due, canceled, ...)."""
    price_id: Mapped[str | None] = mapped_column(String(255))
    current_period_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    """The Stripe time (unix seconds) the subscription state above describes."""


class BillingEvent(Inbox, Base):
    __tablename__ = "billing_events"
    __table_args__ = (Index("ix_billing_events_pending", "handled_at", "received_at"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    """Stripe's event id (`evt_…`): a second delivery of the event finds it here."""
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[int] = mapped_column(BigInteger)
    """When Stripe created the event (unix seconds)."""
    payload: Mapped[dict[str, Any]]
