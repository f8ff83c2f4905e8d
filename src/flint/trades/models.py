"""Trades placed through linked accounts and their audit trail.

A trade row is written (``pending``) in the same transaction as the job that submits it; the
worker moves it through the lifecycle (`flint.brokerage.types.OrderStatus`) and
appends a `TradeEvent` for every change. Events are never updated or deleted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, Price, UUIDPk
from flint.kit.time import utcnow


class Trade(UUIDPk, Base):
    __tablename__ = "trades"
    __table_args__ = (
        Index("ix_trades_user_created", "user_id", "created_at"),
        Index("ix_trades_account_status", "account_id", "status"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("linked_accounts.id"))
    symbol: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(Price())
    order_type: Mapped[str] = mapped_column(String(16))
    time_in_force: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[Decimal | None] = mapped_column(Price())
    stop_price: Mapped[Decimal | None] = mapped_column(Price())
    status: Mapped[str] = mapped_column(String(24), default="pending")
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    provider_order_id: Mapped[str | None] = mapped_column(String(128))
    filled_quantity: Mapped[Decimal] = mapped_column(Price(), default=Decimal(0))
    average_price: Mapped[Decimal | None] = mapped_column(Price())
    fees: Mapped[Decimal] = mapped_column(Price(), default=Decimal(0))
    reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    executed_at: Mapped[datetime | None]


class TradeEvent(UUIDPk, Base):
    """One change of a trade, appended and never changed."""

    __tablename__ = "trade_events"

    trade_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("trades.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(24))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
