from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flint.billing.api import Limit, Plans
from flint.errors import NotFound, PlanLimitReached
from flint.reads import Query, Reads
from flint.users.api import User
from flint.watchlist.models import WatchlistItem


def require_self(caller_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Watchlists are private: any other user's id is answered as if it did not exist."""
    if user_id != caller_id:
        raise NotFound(f"No watchlist for user {user_id}.")


async def _find(session: AsyncSession, user_id: uuid.UUID, symbol: str) -> WatchlistItem | None:
    stmt = select(WatchlistItem).where(
        WatchlistItem.user_id == user_id, WatchlistItem.symbol == symbol
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def add(
    session: AsyncSession, plans: Plans, user: User, symbol: str
) -> tuple[WatchlistItem, bool]:
    """Add a symbol; returns (item, created). Adding one already there returns the existing
    item; a new one beyond the plan's watchlist is refused (403)."""
    existing = await _find(session, user.id, symbol)
    if existing is not None:
        return existing, False
    try:
        await plans.enforce(session, user.id, Limit.WATCHLIST)
    except PlanLimitReached:  # the last free place may have gone to this very symbol
        raced = await _find(session, user.id, symbol)
        if raced is None:
            raise
        return raced, False
    item = WatchlistItem(user_id=user.id, symbol=symbol)
    try:
        async with session.begin_nested():
            session.add(item)
            await session.flush()
    except IntegrityError:  # a concurrent add of the same symbol committed first
        raced = await _find(session, user.id, symbol)
        assert raced is not None
        return raced, False
    return item, True


LIST = Query(
    select(WatchlistItem.id, WatchlistItem.symbol, WatchlistItem.added_at)
    .where(WatchlistItem.user_id == bindparam("user_id"))
    .order_by(WatchlistItem.added_at, WatchlistItem.symbol)
)


async def list_items(reads: Reads, user_id: uuid.UUID) -> list[Any]:
    """The user's items, oldest first (rows with ``id``, ``symbol`` and ``added_at``)."""
    return await reads.all(LIST, user_id=user_id)


async def remove(session: AsyncSession, user: User, symbol: str) -> None:
    result = await session.execute(
        delete(WatchlistItem).where(
            WatchlistItem.user_id == user.id, WatchlistItem.symbol == symbol
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"{symbol} is not on your watchlist.")


async def count_items(session: AsyncSession, user_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(WatchlistItem.user_id == user_id)
    return int(await session.scalar(stmt) or 0)


async def watched_symbols(session: AsyncSession) -> list[str]:
    """Every symbol on some watchlist: the quote refresh keeps them fresh."""
    return list((await session.execute(select(WatchlistItem.symbol).distinct())).scalars())
