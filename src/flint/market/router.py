from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from flint.db import commit
from flint.errors import problem_responses
from flint.kit.symbols import SYMBOL_RULE, Symbol
from flint.kit.time import IsoDate, utcnow, year_before
from flint.market.deps import MarketDep
from flint.market.providers.types import Interval
from flint.market.schemas import History, RealTimeQuote, SearchResult, SearchResults
from flint.market.service import MarketData, QuoteView, view_of
from flint.users.api import CurrentUserId
from flint.web import SessionsDep, sessionmaker

router = APIRouter(prefix="/market", tags=["market"])

SymbolPath = Annotated[Symbol, Path(description=SYMBOL_RULE, examples=["AAPL"])]


@router.get(
    "/real-time/{symbol}",
    summary="The latest quote of a symbol",
    description="Cached for a few seconds. When every provider fails the last stored quote is "
    "returned with `stale: true`; with none stored, 503 names each provider's failure.",
    response_model=RealTimeQuote,
    responses=problem_responses(401, 404, 422, 503),
)
async def real_time(
    symbol: SymbolPath, market: MarketDep, _: CurrentUserId, request: Request
) -> RealTimeQuote | Response:
    cached = await market.cached_quote_json(symbol)
    if cached is not None:
        return _cached_answer(market, symbol, cached)
    # Only a miss needs a transaction: the fetched quote is stored (the sessionmaker from the
    # request, not `SessionsDep`: a dependency FastAPI would solve on every request, hits
    # included, for the rare miss).
    async with sessionmaker(request)() as session:
        view = await market.quote(session, symbol)
        await commit(session)
    return _answer(view)


ANSWERS_KEPT = 4096
"""Symbols whose last cached quote's answer `_cached_answer` keeps (all of them, then)."""
_answers: dict[str, tuple[dict[str, Any], str, bytes]] = {}


def _cached_answer(market: MarketData, symbol: str, cached: dict[str, Any]) -> Response:
    """The answer to a cached quote, as JSON. The cache's quote is the same for every caller
    until it is renewed, so its answer is made once (the `RealTimeQuote` built, checked and
    serialized: a fifth of a signed-in quote's time) and kept with the quote it came from;
    an answer is served again only while the cache holds an equal quote."""
    name = market.name_of(symbol)
    kept = _answers.get(symbol)
    if kept is not None and kept[1] == name and kept[0] == cached:
        return Response(kept[2], media_type="application/json")
    body = _answer(view_of(cached, name)).model_dump_json(by_alias=True).encode()
    if len(_answers) >= ANSWERS_KEPT:
        _answers.clear()
    _answers[symbol] = (cached, name, body)
    return Response(body, media_type="application/json")


def _answer(view: QuoteView) -> RealTimeQuote:
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
    first = start or year_before(last)
    # A session of its own that commits: the sessions storage lacks are fetched and stored on
    # the way (a GET's own session is read-only).
    async with sessions() as session:
        view = await market.history(session, symbol, first, last, interval)
        await commit(session)
    return History.from_fields(
        {
            "symbol": view.symbol,
            "interval": view.interval,
            "currency": view.currency,
            "bars": view.bars,
        }
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
