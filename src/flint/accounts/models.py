"""Linked accounts: who is registered at which provider, each link (its sealed credentials),
the accounts it reaches, and what the last sync brought (balances, holdings, transactions).

Credentials and identities are stored only sealed (`flint.kit.crypto.CredentialBox`). An
unlinked account keeps its row (trades refer to it) but loses its link's credentials, its
holdings and its transactions, and no longer appears in the API.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, Price, UUIDPk
from flint.kit.time import utcnow

Amount = Price
"""Exact decimals on both backends (NUMERIC(38, 18), text on SQLite)."""


class ProviderIdentity(UUIDPk, Base):
    """A Flint user's registration at a provider that has users (SnapTrade), sealed."""

    __tablename__ = "provider_identities"
    __table_args__ = (UniqueConstraint("user_id", "provider"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountLink(UUIDPk, Base):
    """One connection made with an auth code; ``sealed_credentials`` is None once unlinked."""

    __tablename__ = "account_links"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    sealed_credentials: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    """active, broken (the provider no longer honours it) or unlinked."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    unlinked_at: Mapped[datetime | None]


class LinkSyncRequest(Base):
    """A sync of the link sent to the worker and not yet begun: a request meanwhile adds
    nothing, since that sync will read the institution after it (`sync_requests`)."""

    __tablename__ = "account_link_sync_requests"

    link_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account_links.id", ondelete="CASCADE"), primary_key=True
    )
    queued_at: Mapped[datetime]


class LinkedAccount(UUIDPk, Base):
    __tablename__ = "linked_accounts"
    __table_args__ = (
        UniqueConstraint("link_id", "provider_account_id"),
        Index("ix_linked_accounts_user_active", "user_id", "unlinked_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    link_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account_links.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(32))
    provider_account_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(8))
    institution: Mapped[str] = mapped_column(String(200))
    mask: Mapped[str | None] = mapped_column(String(16))
    can_trade: Mapped[bool] = mapped_column(default=False)
    balance_current: Mapped[Decimal | None] = mapped_column(Amount())
    balance_available: Mapped[Decimal | None] = mapped_column(Amount())
    balance_cash: Mapped[Decimal | None] = mapped_column(Amount())
    balance_buying_power: Mapped[Decimal | None] = mapped_column(Amount())
    last_synced_at: Mapped[datetime | None]
    sync_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    unlinked_at: Mapped[datetime | None]


class AccountHolding(Base):
    """A position as of the account's last sync."""

    __tablename__ = "account_holdings"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[Decimal] = mapped_column(Amount())
    price: Mapped[Decimal | None] = mapped_column(Amount())
    cost_basis: Mapped[Decimal | None] = mapped_column(Amount())
    currency: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(String(200))


class AccountTransaction(UUIDPk, Base):
    __tablename__ = "account_transactions"
    __table_args__ = (
        UniqueConstraint("account_id", "provider_transaction_id"),
        Index("ix_account_transactions_page", "account_id", "date", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("linked_accounts.id", ondelete="CASCADE")
    )
    provider_transaction_id: Mapped[str] = mapped_column(String(128))
    date: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Amount())
    currency: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str | None] = mapped_column(String(32))
    symbol: Mapped[str | None] = mapped_column(String(32))
    quantity: Mapped[Decimal | None] = mapped_column(Amount())
    price: Mapped[Decimal | None] = mapped_column(Amount())
