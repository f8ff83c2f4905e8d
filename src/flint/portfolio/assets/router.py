"""Custom assets: what no provider prices, priced by their owner."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, status

from flint.errors import problem_responses
from flint.kit.symbols import CUSTOM_SYMBOL_RULE, CUSTOM_SYMBOL_SCHEMA_PATTERN, schema_pattern
from flint.kit.time import IsoDate
from flint.portfolio.assets import service
from flint.portfolio.assets.schemas import (
    CustomAssetIn,
    CustomAssetOut,
    CustomAssets,
    CustomAssetUpdate,
    PricePoint,
    Prices,
    PricesIn,
    PricesWritten,
)
from flint.users.api import CurrentUserId
from flint.web import SessionDep

router = APIRouter(prefix="/assets", tags=["assets"])

SymbolPath = Annotated[
    str,
    Path(
        max_length=64,
        description=CUSTOM_SYMBOL_RULE,
        examples=["MY:HOUSE"],
        json_schema_extra=schema_pattern(CUSTOM_SYMBOL_SCHEMA_PATTERN),
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a custom asset",
    description="A namespaced symbol (`MY:HOUSE`) for something no provider prices. It is yours "
    "alone and works wherever a listed symbol does in portfolios (lots, transactions, import, "
    "performance, charts, reports) once it has a price: between given prices the last one "
    "carries forward, and before the first one it has no value and cannot be bought.",
    responses=problem_responses(400, 401, 409, 422),
)
async def create(
    body: CustomAssetIn, user_id: CurrentUserId, session: SessionDep
) -> CustomAssetOut:
    asset = await service.create(session, user_id, body)
    (out,) = await service.describe(session, [asset])
    return out


@router.get("", summary="Your custom assets", responses=problem_responses(401))
async def list_assets(user_id: CurrentUserId, session: SessionDep) -> CustomAssets:
    assets = await service.list_assets(session, user_id)
    return CustomAssets(assets=await service.describe(session, assets))


@router.get("/{symbol}", summary="One custom asset", responses=problem_responses(401, 404, 422))
async def read(symbol: SymbolPath, user_id: CurrentUserId, session: SessionDep) -> CustomAssetOut:
    (out,) = await service.describe(session, [await service.get(session, user_id, symbol)])
    return out


@router.put(
    "/{symbol}",
    summary="Rename a custom asset or change its class",
    responses=problem_responses(400, 401, 404, 422),
)
async def update(
    symbol: SymbolPath, body: CustomAssetUpdate, user_id: CurrentUserId, session: SessionDep
) -> CustomAssetOut:
    asset = await service.update_asset(session, await service.get(session, user_id, symbol), body)
    (out,) = await service.describe(session, [asset])
    return out


@router.delete(
    "/{symbol}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a custom asset and its prices",
    description="Refused (409) while a portfolio's ledger names it.",
    responses=problem_responses(401, 404, 409, 422),
)
async def delete(symbol: SymbolPath, user_id: CurrentUserId, session: SessionDep) -> None:
    await service.remove(session, await service.get(session, user_id, symbol))


@router.put(
    "/{symbol}/prices",
    summary="Set prices (insert or replace by day, all or none)",
    description="Each `{date, price}` sets the asset's price from that day on, until the next "
    "given price. Days already priced are replaced; other days stay. Future days and a day "
    "given twice are refused.",
    responses=problem_responses(400, 401, 404, 413, 422),
)
async def put_prices(
    symbol: SymbolPath,
    body: Annotated[PricesIn, Body()],
    user_id: CurrentUserId,
    session: SessionDep,
) -> PricesWritten:
    asset = await service.get(session, user_id, symbol)
    inserted, updated = await service.put_prices(session, asset, body.root)
    (out,) = await service.describe(session, [asset])
    return PricesWritten(symbol=asset.symbol, inserted=inserted, updated=updated, asset=out)


@router.get(
    "/{symbol}/prices",
    summary="The prices given for a custom asset, oldest first",
    responses=problem_responses(401, 404, 422),
)
async def prices(
    symbol: SymbolPath,
    user_id: CurrentUserId,
    session: SessionDep,
    start: Annotated[IsoDate | None, Query()] = None,
    end: Annotated[IsoDate | None, Query()] = None,
) -> Prices:
    asset = await service.get(session, user_id, symbol)
    rows = await service.prices(session, asset, start, end)
    return Prices(
        symbol=asset.symbol,
        currency=asset.currency,
        prices=[PricePoint(date=row.date, price=row.price) for row in rows],
    )
