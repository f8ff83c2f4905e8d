"""The periodic refresh: every watched symbol's quote is fetched, stored and cached."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from flint.market import service, storage
from flint.market.api import MarketData, QuoteFeed
from tests.conftest import Account


async def watch(client: httpx.AsyncClient, account: Account, *symbols: str) -> None:
    for symbol in symbols:
        response = await client.post(
            "/api/v1/watchlist/add",
            json={"userId": account.user_id, "asset": symbol},
            headers=account.headers,
        )
        assert response.status_code in (200, 201), response.text


async def test_watched_symbols_are_the_distinct_union_of_every_watchlist(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await watch(client, alice, "AAPL", "BTC-USD")
    await watch(client, bob, "AAPL", "^GSPC")

    async with app.state.runtime.sessions() as session:
        symbols = await app.state.runtime.get(QuoteFeed).watched(session)

    assert symbols == ["AAPL", "BTC-USD", "^GSPC"]


async def test_refresh_stores_and_caches_each_watched_quote(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    await watch(client, alice, "MSFT", "ETH-USD")
    market = app.state.runtime.get(MarketData)

    async with app.state.runtime.sessions() as session:
        watched = await app.state.runtime.get(QuoteFeed).watched(session)
        quotes = await market.refresh_quotes(session, watched)
        await session.commit()

    assert [quote.symbol for quote in quotes] == ["ETH-USD", "MSFT"]
    async with app.state.runtime.sessions() as session:
        for quote in quotes:
            assert await storage.last_quote(session, quote.symbol) == quote
            assert await market.cache.get(service.quote_key(quote.symbol)) == service.quote_to_json(
                quote
            )


async def test_refresh_skips_symbols_no_provider_knows(app: FastAPI) -> None:
    market = app.state.runtime.get(MarketData)
    async with app.state.runtime.sessions() as session:
        quotes = await market.refresh_quotes(session, ["NOPE1", "AAPL"])

    assert [quote.symbol for quote in quotes] == ["AAPL"]


def test_batches_split_in_order() -> None:
    assert service.batches(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]
