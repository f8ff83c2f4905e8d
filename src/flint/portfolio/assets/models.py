"""Custom assets: what no provider prices (a house, private shares, a savings bond, a fund only
the user's bank quotes), with the prices their owner gives. A symbol is namespaced
(``MY:HOUSE``) and belongs to its owner alone: two users may each have a ``MY:HOUSE``."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from flint.db import Base, Price, UUIDPk
from flint.kit.time import utcnow


class CustomAsset(UUIDPk, Base):
    __tablename__ = "custom_assets"
    __table_args__ = (UniqueConstraint("owner_id", "symbol"),)

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(8))
    asset_class: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomAssetPrice(Base):
    __tablename__ = "custom_asset_prices"

    asset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("custom_assets.id", ondelete="CASCADE"), primary_key=True
    )
    date: Mapped[date] = mapped_column(primary_key=True)
    price: Mapped[Decimal] = mapped_column(Price())
