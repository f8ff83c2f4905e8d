from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from flint.db import commit
from flint.errors import problem_responses
from flint.kit.symbols import SYMBOL_RULE, Symbol
from flint.kit.time import IsoDate, utcnow
from flint.market.deps import MarketDep
from flint.market.providers.types import Interval
from flint.market.schemas import HistoricalBar, History, RealTimeQuote, SearchResult, SearchResults
from flint.users.api import CurrentUserId
from flint.web import SessionsDep, sessionmaker

router = APIRouter(prefix="/market", tags=["market"])

SymbolPath = Annotated[Symbol, Path(description=SYMBOL_RULE, examples=["AAPL"])]


@router.get(
    "/real-time/{symbol}",
    summary="The latest quote of a symbol",
    description="Cached for a few seconds. When every provider fails the last stored quote is "
    "returned with `stale: true`; with none stored, 503 names each provider's failure.",
    responses=problem_responses(401, 404, 422, 503),
)
async def real_time(
    symbol: SymbolPath, market: MarketDep, _: CurrentUserId, request: Request
) -> RealTimeQuote:
    view = await market.cached_quote(symbol)
    if view is None:  # only a miss needs a transaction: the fetched quote is stored
        # (the sessionmaker from the request, not `SessionsDep`: a dependency FastAPI would
        # solve on every request, hits included, for the rare miss)
        async with sessionmaker(request)() as session:
            view = await market.quote(session, symbol)
            await commit(session)
    quote = view.quote
    return RealTimeQuote(
        symbol=quote.symbol,
        name=view.name,
        price=quote.price,
        change=quote.change,
        change_percent=quote.change_percent,
        open=quote.open,
        high=quote.high,
        low=quote.low,
        previous_close=quote.previous_close,
        volume=quote.volume,
        currency=quote.currency,
        timestamp=quote.timestamp,
        provider=quote.provider,
        stale=view.stale,
    )


@router.get(
    "/historical/{symbol}",
    summary="Price bars of a symbol",
    description="Dates are inclusive ISO dates; the default is the last year of daily bars. "
    "Ranges over 30 years, `start` after `end`, or intraday ranges longer than the provider "
    "keeps answer 422.",
    responses=problem_responses(401, 404, 422, 503),
)
async def historical(
    symbol: SymbolPath,
    market: MarketDep,
    sessions: SessionsDep,
    _: CurrentUserId,
    start: Annotated[IsoDate | None, Query(examples=["2024-01-01"])] = None,
    end: Annotated[IsoDate | None, Query(examples=["2024-12-31"])] = None,
    interval: Interval = Interval.D1,
) -> History:
    last = end or utcnow().date()
    first = start or last - timedelta(days=365)
    # A session of its own that commits: the sessions storage lacks are fetched and stored on
    # the way (a GET's own session is read-only).
    async with sessions() as session:
        view = await market.history(session, symbol, first, last, interval)
        await commit(session)
    return History(
        symbol=view.symbol,
        interval=view.interval,
        currency=view.currency,
        bars=[HistoricalBar.model_validate(bar) for bar in view.bars],
    )


@router.get(
    "/search",
    summary="Find instruments by symbol or name",
    description="Ranked: exact symbol, then symbol prefix, then name words ('apple' finds AAPL).",
    responses=problem_responses(401, 422),
)
async def search(
    market: MarketDep,
    _: CurrentUserId,
    query: Annotated[str, Query(min_length=1, max_length=100, examples=["apple"])],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResults:
    found = await market.search(query, limit)
    return SearchResults(results=[SearchResult.model_validate(item) for item in found])
