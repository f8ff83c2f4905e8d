"""Custom assets and their prices. A custom asset is priced only by its owner: between given
prices the last one carries forward, and before the first one the asset has no value (it
cannot be bought). Changing prices bumps the version of the owner's portfolios that hold it,
so their cached performance is recomputed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import Conflict, NotFound, ValidationFailed, field_error
from flint.kit.time import utcnow
from flint.portfolio.assets.models import CustomAsset, CustomAssetPrice
from flint.portfolio.assets.schemas import (
    CustomAssetIn,
    CustomAssetOut,
    CustomAssetUpdate,
    PricePointIn,
)
from flint.portfolio.models import Portfolio, PortfolioTransaction


@dataclass(frozen=True)
class Custom:
    """What pricing and validation need to know of one custom asset."""

    asset_id: uuid.UUID
    symbol: str
    currency: str
    asset_class: str
    first_date: date | None
    name: str | None = None


async def create(session: AsyncSession, owner_id: uuid.UUID, body: CustomAssetIn) -> CustomAsset:
    existing = await _find(session, owner_id, body.symbol)
    if existing is not None:
        raise Conflict(f"You already have a custom asset {body.symbol}.")
    asset = CustomAsset(
        owner_id=owner_id,
        symbol=body.symbol,
        name=body.name,
        currency=body.currency,
        asset_class=body.asset_class,
    )
    session.add(asset)
    await session.flush()
    return asset


async def _find(session: AsyncSession, owner_id: uuid.UUID, symbol: str) -> CustomAsset | None:
    stmt = select(CustomAsset).where(
        CustomAsset.owner_id == owner_id, CustomAsset.symbol == symbol.upper()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get(session: AsyncSession, owner_id: uuid.UUID, symbol: str) -> CustomAsset:
    """The caller's custom asset, or 404 (another user's symbol is not theirs to see)."""
    asset = await _find(session, owner_id, symbol)
    if asset is None:
        raise NotFound(f"No custom asset {symbol.upper()}.")
    return asset


async def describe(session: AsyncSession, assets: Sequence[CustomAsset]) -> list[CustomAssetOut]:
    """The assets with their price summary (first and last price, count), in one query."""
    if not assets:
        return []
    p = CustomAssetPrice
    counts = {
        asset_id: (first, last, count)
        for asset_id, first, last, count in await session.execute(
            select(p.asset_id, func.min(p.date), func.max(p.date), func.count())
            .where(p.asset_id.in_([a.id for a in assets]))
            .group_by(p.asset_id)
        )
    }
    lasts = {
        (asset_id, day): price
        for asset_id, day, price in await session.execute(
            select(p.asset_id, p.date, p.price).where(
                p.asset_id.in_([a.id for a in assets]),
                p.date.in_([c[1] for c in counts.values()]),
            )
        )
    }
    out: list[CustomAssetOut] = []
    for asset in assets:
        first, last, count = counts.get(asset.id, (None, None, 0))
        out.append(
            CustomAssetOut(
                symbol=asset.symbol,
                name=asset.name,
                currency=asset.currency,
                asset_class=asset.asset_class,
                first_price_date=first,
                last_price=lasts.get((asset.id, last)) if last else None,
                last_price_date=last,
                price_count=count,
                created_at=asset.created_at,
                updated_at=asset.updated_at,
            )
        )
    return out


async def list_assets(session: AsyncSession, owner_id: uuid.UUID) -> list[CustomAsset]:
    stmt = select(CustomAsset).where(CustomAsset.owner_id == owner_id).order_by(CustomAsset.symbol)
    return list((await session.execute(stmt)).scalars())


async def update_asset(
    session: AsyncSession, asset: CustomAsset, body: CustomAssetUpdate
) -> CustomAsset:
    asset.name = body.name
    asset.asset_class = body.asset_class
    asset.updated_at = utcnow()
    await session.flush()
    await _touch_portfolios(session, asset)
    return asset


async def put_prices(
    session: AsyncSession, asset: CustomAsset, points: Sequence[PricePointIn]
) -> tuple[int, int]:
    """Insert or replace the prices of the given days, all or none; returns (inserted,
    updated). Future days and a day given twice are refused, naming each."""
    today = utcnow().date()
    problems: list[tuple[str, str]] = []
    seen: dict[date, int] = {}
    for index, point in enumerate(points):
        if point.date > today:
            problems.append((f"body[{index}].date", f"{point.date} is in the future"))
        if point.date in seen:
            problems.append(
                (
                    f"body[{index}].date",
                    f"{point.date} is given twice (also at [{seen[point.date]}])",
                )
            )
        seen.setdefault(point.date, index)
    if problems:
        raise ValidationFailed(
            "; ".join(f"{where}: {why}" for where, why in problems),
            errors=[field_error(where, why) for where, why in problems],
        )
    stored = {
        row.date: row
        for row in (
            await session.execute(
                select(CustomAssetPrice).where(CustomAssetPrice.asset_id == asset.id)
            )
        ).scalars()
    }
    inserted = updated = 0
    for point in points:
        row = stored.get(point.date)
        if row is None:
            session.add(CustomAssetPrice(asset_id=asset.id, date=point.date, price=point.price))
            inserted += 1
        elif row.price != point.price:
            row.price = point.price
            updated += 1
    asset.updated_at = utcnow()
    await session.flush()
    if inserted or updated:
        await _touch_portfolios(session, asset)
    return inserted, updated


async def prices(
    session: AsyncSession, asset: CustomAsset, start: date | None, end: date | None
) -> list[CustomAssetPrice]:
    stmt = select(CustomAssetPrice).where(CustomAssetPrice.asset_id == asset.id)
    if start is not None:
        stmt = stmt.where(CustomAssetPrice.date >= start)
    if end is not None:
        stmt = stmt.where(CustomAssetPrice.date <= end)
    return list((await session.execute(stmt.order_by(CustomAssetPrice.date))).scalars())


async def _holders(session: AsyncSession, asset: CustomAsset) -> list[Portfolio]:
    stmt = (
        select(Portfolio)
        .where(
            Portfolio.user_id == asset.owner_id,
            Portfolio.id.in_(
                select(PortfolioTransaction.portfolio_id).where(
                    PortfolioTransaction.symbol == asset.symbol
                )
            ),
        )
        .order_by(Portfolio.name)
    )
    return list((await session.execute(stmt)).scalars())


async def _touch_portfolios(session: AsyncSession, asset: CustomAsset) -> None:
    """Prices of a custom asset are part of its owner's portfolios: a change makes their
    cached results stale."""
    holders = [p.id for p in await _holders(session, asset)]
    if holders:
        await session.execute(
            update(Portfolio)
            .where(Portfolio.id.in_(holders))
            .values(version=Portfolio.version + 1, updated_at=utcnow())
            .execution_options(synchronize_session="fetch")
        )


async def remove(session: AsyncSession, asset: CustomAsset) -> None:
    """Delete the asset and its prices; refused while a portfolio's ledger names it."""
    holders = await _holders(session, asset)
    if holders:
        names = ", ".join(f"{p.name!r}" for p in holders[:5])
        raise Conflict(
            f"{asset.symbol} is in the ledger of {len(holders)} portfolio(s) ({names}); "
            "remove those transactions first."
        )
    await session.delete(asset)
    await session.flush()


async def catalog(
    session: AsyncSession, owner_id: uuid.UUID, symbols: Iterable[str]
) -> dict[str, Custom]:
    """The owner's custom assets among ``symbols`` (others' are simply absent)."""
    wanted = sorted({s for s in symbols if ":" in s})
    if not wanted:
        return {}
    p = CustomAssetPrice
    first = select(p.asset_id, func.min(p.date).label("first")).group_by(p.asset_id).subquery()
    stmt = (
        select(CustomAsset, first.c.first)
        .outerjoin(first, first.c.asset_id == CustomAsset.id)
        .where(CustomAsset.owner_id == owner_id, CustomAsset.symbol.in_(wanted))
    )
    return {
        asset.symbol: Custom(
            asset.id, asset.symbol, asset.currency, asset.asset_class, day, asset.name
        )
        for asset, day in await session.execute(stmt)
    }


async def closes(
    session: AsyncSession, customs: Iterable[Custom], end: date
) -> dict[str, dict[date, float]]:
    """Every given price of ``customs`` up to ``end``, per symbol."""
    by_id = {c.asset_id: c.symbol for c in customs}
    out: dict[str, dict[date, float]] = {symbol: {} for symbol in by_id.values()}
    if not by_id:
        return out
    stmt = select(CustomAssetPrice.asset_id, CustomAssetPrice.date, CustomAssetPrice.price).where(
        CustomAssetPrice.asset_id.in_(list(by_id)), CustomAssetPrice.date <= end
    )
    for asset_id, day, price in await session.execute(stmt):
        out[by_id[asset_id]][day] = float(price)
    return out
