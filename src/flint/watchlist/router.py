from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from flint.billing.api import PlansDep
from flint.errors import ValidationFailed, problem_responses
from flint.kit.symbols import SYMBOL_RULE, SYMBOL_SCHEMA_PATTERN, normalize_symbol, schema_pattern
from flint.market.api import MarketDep
from flint.users.api import CurrentUser, CurrentUserId
from flint.watchlist import service
from flint.watchlist.schemas import AddToWatchlist, Watchlist, WatchlistEntry
from flint.web import ReadsDep, SessionDep

router = APIRouter(prefix="/watchlist", tags=["watchlist"])


@router.post(
    "/add",
    status_code=status.HTTP_201_CREATED,
    summary="Add an asset to your watchlist",
    description="201 with the new item; 200 with the existing item when it is already there. "
    "The asset is kept as the market names it (`BRK.B` is `BRK-B`, so either spelling is "
    "one item); a symbol the market does not know is 422. A new item beyond your plan's "
    "watchlist (`GET /billing/subscription`) is 403 `/plan-limit`.",
    responses={
        200: {"model": WatchlistEntry, "description": "Already on the watchlist"},
        **problem_responses(400, 401, 403, 404, 422),
    },
)
async def add(
    body: AddToWatchlist,
    user: CurrentUser,
    session: SessionDep,
    plans: PlansDep,
    market: MarketDep,
    response: Response,
) -> WatchlistEntry:
    service.require_self(user.id, body.user_id)
    known = market.instrument(body.asset)
    if known is None:
        raise ValidationFailed.at("body.asset", f"Unknown symbol {body.asset}.")
    item, created = await service.add(session, plans, user, known.symbol)
    if not created:
        response.status_code = status.HTTP_200_OK
    return WatchlistEntry.model_validate(item)


@router.get(
    "/{userId}",
    summary="Your watchlist",
    responses=problem_responses(401, 404, 422),
)
async def read(userId: uuid.UUID, user_id: CurrentUserId, reads: ReadsDep) -> Watchlist:
    service.require_self(user_id, userId)
    items = await service.list_items(reads, user_id)
    return Watchlist.model_validate({"watchlist": [item._asdict() for item in items]})


@router.delete(
    "/{userId}/{asset}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an asset from your watchlist",
    responses=problem_responses(401, 404, 422),
)
async def remove(
    userId: uuid.UUID,
    asset: Annotated[
        str,
        Path(
            max_length=64,
            description=SYMBOL_RULE,
            examples=["AAPL"],
            json_schema_extra=schema_pattern(SYMBOL_SCHEMA_PATTERN),
        ),
    ],
    user: CurrentUser,
    session: SessionDep,
    market: MarketDep,
) -> None:
    service.require_self(user.id, userId)
    try:
        symbol = normalize_symbol(asset)
    except ValueError as exc:
        raise ValidationFailed.at("path.asset", str(exc)) from exc
    known = market.instrument(symbol)  # either spelling removes the item (`add`)
    await service.remove(session, user, known.symbol if known is not None else symbol)
