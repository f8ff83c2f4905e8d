"""What the trade routes take from the runtime, and the caller's trade or 404."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path

from flint.trades import service
from flint.trades.context import TradingContext
from flint.trades.models import Trade
from flint.users.api import CurrentUserId
from flint.web import SessionDep, part

TradingDep = Annotated[TradingContext, Depends(part(TradingContext))]


async def owned_trade(
    session: SessionDep,
    user_id: CurrentUserId,
    trade_id: Annotated[uuid.UUID, Path(alias="tradeId")],
) -> Trade:
    """The caller's trade; anyone else's is 404."""
    return await service.get(session, user_id, trade_id)


OwnedTrade = Annotated[Trade, Depends(owned_trade)]
