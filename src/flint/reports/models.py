"""Reports: a request for a document about one portfolio, rendered by a worker and kept in the
report store until its owner deletes it.

The row outlives its portfolio (``portfolio_id`` becomes NULL): a statement already made stays
the owner's document; one still waiting fails with the reason.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, UUIDPk
from flint.kit.time import utcnow

REPORT_TYPES = ("portfolio_summary", "performance", "transactions", "tax_lots")
REPORT_FORMATS = ("pdf", "html", "csv")
STATUSES = ("queued", "running", "completed", "failed")


class Report(UUIDPk, Base):
    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_user_created", "user_id", "created_at"),
        Index("ix_reports_status_updated", "status", "updated_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    portfolio_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("portfolios.id", ondelete="SET NULL"), index=True
    )
    portfolio_name: Mapped[str] = mapped_column(String(200))
    """The name when requested, so the list still says what a report was about."""
    type: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(8))
    start: Mapped[date | None]
    """None: from the portfolio's first transaction."""
    end: Mapped[date]
    benchmark: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    reason: Mapped[str | None] = mapped_column(String(500))
    """Why it failed, in words for its owner."""
    attempts: Mapped[int] = mapped_column(default=0)
    storage_key: Mapped[str | None] = mapped_column(String(300))
    filename: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
