"""Portfolios and their transaction ledger.

A portfolio's lots (its "assets") are the ledger's buys; every other kind of transaction
(sell, dividend, interest, fee, tax, deposit, withdrawal, split) lives in the same ledger, so
history can be replayed exactly. ``version`` goes up with every change to the ledger, so
results computed from it can be cached per version.

A portfolio may follow a linked brokerage account (``account_id``): its activities are
mirrored into the ledger as rows carrying ``source_transaction_id`` (see
`flint.portfolio.following`); rows entered by hand have none.

Rows imported from a file leave a fingerprint each (`ImportFingerprint`), so importing the
same file again adds only what is new (see `flint.portfolio.fingerprints`). A large file is
imported in the background (`ImportJob`, see `flint.portfolio.import_jobs`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, Price, UUIDPk
from flint.kit.time import utcnow

TRANSACTION_TYPES = (
    "buy",
    "sell",
    "dividend",
    "interest",
    "fee",
    "tax",
    "deposit",
    "withdrawal",
    "split",
)


class Portfolio(UUIDPk, Base):
    __tablename__ = "portfolios"
    __table_args__ = (
        Index("ix_portfolios_user_created", "user_id", "created_at"),
        Index("uq_portfolios_user_source", "user_id", "source", unique=True),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    base_currency: Mapped[str] = mapped_column(String(8), default="USD")
    version: Mapped[int] = mapped_column(default=0)
    allow_negative_cash: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Whether a withdrawal may take the cash below zero (else it is refused)."""
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="SET NULL"), index=True
    )
    """The linked brokerage account the portfolio follows, if any."""
    source: Mapped[str | None] = mapped_column(String(200))
    """What an import made the portfolio of (``ghostfolio:account:<id>``), so importing a newer
    export of it adds to this portfolio instead of making another; one per user and source."""
    last_synced_at: Mapped[datetime | None]
    sync_report: Mapped[dict[str, Any] | None]
    """What the last sync from the account did (counts and notes), for the API."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


_HAS_SOURCE = text("source_transaction_id IS NOT NULL")
"""The rows mirrored from a followed account (the others carry no source id)."""


class PortfolioTransaction(UUIDPk, Base):
    __tablename__ = "portfolio_transactions"
    __table_args__ = (
        Index("ix_portfolio_transactions_ledger", "portfolio_id", "date", "seq"),
        # Only mirrored rows carry a source id: the rows imported or entered by hand (nearly
        # all of a large import) are left out of the index instead of each adding a NULL entry.
        Index(
            "uq_portfolio_transactions_source",
            "portfolio_id",
            "source_transaction_id",
            unique=True,
            postgresql_where=_HAS_SOURCE,
            sqlite_where=_HAS_SOURCE,
        ),
    )

    portfolio_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    seq: Mapped[int]
    """Order within a day: the ledger replays by (date, seq)."""
    date: Mapped[date]
    type: Mapped[str] = mapped_column(String(16))
    symbol: Mapped[str | None] = mapped_column(String(32))
    quantity: Mapped[Decimal | None] = mapped_column(Price())
    """Units for buy and sell; the ratio for a split (2 = two for one)."""
    price: Mapped[Decimal | None] = mapped_column(Price())
    fee: Mapped[Decimal] = mapped_column(Price(), default=Decimal(0))
    amount: Mapped[Decimal | None] = mapped_column(Price())
    """Cash amount for dividend, interest, fee, tax, deposit and withdrawal (positive)."""
    currency: Mapped[str] = mapped_column(String(8), default="USD")
    source_transaction_id: Mapped[str | None] = mapped_column(String(200))
    """Set on rows mirrored from a followed account: ``<linked account id>/<the provider's
    transaction id>``, or ``<linked account id>#<reconciliation>:<symbol>``. Such rows are
    written and replaced only by the sync."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImportFingerprint(Base):
    """One imported row, as the portfolio has seen it: ``<preset>:<the source's id>`` or the
    hash of the normalised row (``<sha256>#<k>``, the k-th equal row of its file). It outlives
    the transaction it created, so a row deleted or edited by hand is not imported again. It
    does not name that transaction: nothing read the link, and its foreign key and index
    cost a 100,000-row import a fifth of its time (migration 0024)."""

    __tablename__ = "portfolio_import_fingerprints"

    portfolio_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


IMPORT_STATUSES = ("queued", "running", "done", "failed")


class ImportJob(UUIDPk, Base):
    """A file imported by a worker: kept until the worker has imported it (or refused it),
    then only its outcome. ``result`` is what the import's 201 says (the counts); ``problem``
    the 422 problem document it would have answered."""

    __tablename__ = "portfolio_import_jobs"
    __table_args__ = (Index("ix_portfolio_import_jobs_portfolio", "portfolio_id", "created_at"),)

    portfolio_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("portfolios.id", ondelete="CASCADE"))
    preset: Mapped[str] = mapped_column(String(16))
    """As asked (``auto`` included); the preset that read the file is in ``result``."""
    on_duplicate: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    size_bytes: Mapped[int]
    payload: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    """The file, until the import is done or refused (never read by a status request)."""
    result: Mapped[dict[str, Any] | None]
    problem: Mapped[dict[str, Any] | None]
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
