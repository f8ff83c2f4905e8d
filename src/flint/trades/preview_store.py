"""Trade previews as stored: the table, taking a preview for a trade exactly once, and the
provider's reference the worker places the trade with.

Previews live in the database (not in a process) so that any API process can execute what
another previewed, and a restart forgets nothing. A preview becomes at most one trade: its
``trade_id`` is set by a conditional update in the transaction that creates the trade, so two
executes of one preview cannot both succeed, whichever process they reach.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from flint.brokerage.api import OrderAction, OrderRequest, OrderType, TimeInForce
from flint.db import Base, JSONType, Price, UUIDPk
from flint.errors import Conflict, NotFound, ValidationFailed
from flint.kit.time import utcnow
from flint.trades.models import Trade
from flint.trades.schemas import ExecuteTrade

KEEP_EXPIRED = timedelta(days=1)
"""How long an expired preview nobody executed is kept (executing it says "expired", not
404); executed ones stay with their trade."""


class TradePreview(UUIDPk, Base):
    """An order as previewed, with the provider's estimate; ``trade_id`` once it was executed."""

    __tablename__ = "trade_previews"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("linked_accounts.id"))
    symbol: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(Price())
    order_type: Mapped[str] = mapped_column(String(16))
    time_in_force: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[Decimal | None] = mapped_column(Price())
    stop_price: Mapped[Decimal | None] = mapped_column(Price())
    estimated_price: Mapped[Decimal] = mapped_column(Price())
    estimated_value: Mapped[Decimal] = mapped_column(Price())
    commission: Mapped[Decimal] = mapped_column(Price())
    buying_power_after: Mapped[Decimal | None] = mapped_column(Price())
    warnings: Mapped[list[str]] = mapped_column(JSONType, default=list)
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    """The provider's id of the checked trade (SnapTrade's trade id), placed by the worker."""
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    trade_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("trades.id", ondelete="SET NULL"), unique=True
    )

    def order(self) -> ExecuteTrade:
        """The order exactly as it was previewed."""
        return ExecuteTrade(
            account_id=self.account_id,
            asset=self.symbol,
            action=OrderAction(self.action),
            quantity=self.quantity,
            order_type=OrderType(self.order_type),
            limit_price=self.limit_price,
            stop_price=self.stop_price,
            time_in_force=TimeInForce(self.time_in_force),
        )


async def take(session: AsyncSession, user_id: uuid.UUID, preview_id: uuid.UUID) -> TradePreview:
    """The caller's preview, if it can still be executed: 404 for none (or another user's),
    409 for one executed already, 422 for one expired."""
    stmt = select(TradePreview).where(TradePreview.id == preview_id)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    preview = (await session.execute(stmt)).scalar_one_or_none()
    if preview is None or preview.user_id != user_id:
        raise NotFound(f"No trade preview {preview_id}.")
    if preview.trade_id is not None:
        raise Conflict(
            f"The preview {preview_id} was executed already, as trade {preview.trade_id}."
        )
    if preview.expires_at <= utcnow():
        raise ValidationFailed.at(
            "body.previewId",
            f"The preview {preview_id} expired at {preview.expires_at.isoformat()}; "
            "preview the trade again.",
        )
    return preview


async def use(session: AsyncSession, preview: TradePreview, trade: Trade) -> None:
    """Record that ``trade`` executes ``preview``; 409 when another request got there first."""
    result = await session.execute(
        update(TradePreview)
        .where(TradePreview.id == preview.id, TradePreview.trade_id.is_(None))
        .values(trade_id=trade.id)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(f"The preview {preview.id} was executed already.")


async def forget_expired(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Delete the user's previews that expired unexecuted more than `KEEP_EXPIRED` ago (done
    when they preview again, so the table holds about a day of each user's previews)."""
    await session.execute(
        delete(TradePreview)
        .where(
            TradePreview.user_id == user_id,
            TradePreview.trade_id.is_(None),
            TradePreview.expires_at < utcnow() - KEEP_EXPIRED,
        )
        .execution_options(synchronize_session=False)
    )


async def request_for(session: AsyncSession, trade: Trade, request: OrderRequest) -> OrderRequest:
    """``request`` to place ``trade``, carrying the provider's checked trade when the trade
    executes a preview that has one."""
    stmt = select(TradePreview.provider_ref).where(TradePreview.trade_id == trade.id)
    ref = (await session.execute(stmt)).scalar_one_or_none()
    return request if ref is None else replace(request, preview_id=ref)
