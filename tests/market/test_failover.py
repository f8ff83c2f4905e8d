"""The provider chain through the HTTP API: Yahoo (the real adapter, against its local stub)
first, the simulated market behind it. Failures fall through, garbage is never served or
stored, the last stored quote stands in when every provider fails, and concurrent cold
requests for one symbol make one provider call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cashews import Cache
from fastapi import FastAPI

from flint.config import Settings
from flint.errors import NotFound
from flint.kit.cache import create_cache
from flint.market import storage
from flint.market.providers.factory import build_market
from flint.market.providers.yahoo.provider import HISTORY_FETCHES
from flint.market.service import MarketData, ProvidersFailed, quote_key
from tests.conftest import Account, assert_problem, service_url
from tests.stubs.server import HOLD, RunningStub, StubControl, run_stub
from tests.stubs.yahoo import create_app as yahoo_stub

FAST_VENDOR = {
    "vendor_read_timeout": 1.0,
    "vendor_connect_timeout": 1.0,
    "vendor_retry_attempts": 1,
    "vendor_breaker_threshold": 1000,
}


@pytest.fixture(scope="module")
def yahoo() -> Iterator[RunningStub]:
    with run_stub(yahoo_stub()) as running:
        yield running


@pytest.fixture
def control(yahoo: RunningStub) -> StubControl:
    yahoo.control.reset()
    return yahoo.control


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, yahoo: RunningStub) -> dict[str, Any]:
    chain = request.node.get_closest_marker("chain")
    overrides = request.node.get_closest_marker("settings")
    return {
        **FAST_VENDOR,
        "market_providers": chain.args[0] if chain else ["yahoo", "simulated"],
        "yahoo_base_url": yahoo.url,
        "yahoo_rate_limits": "",
        **(overrides.kwargs if overrides else {}),
    }


async def quote(client: httpx.AsyncClient, account: Account, symbol: str) -> httpx.Response:
    return await client.get(f"/api/v1/market/real-time/{symbol}", headers=account.headers)


async def test_the_first_provider_answers_when_it_can(
    client: httpx.AsyncClient, alice: Account, control: StubControl
) -> None:
    response = await quote(client, alice, "MSFT")

    assert response.json()["provider"] == "yahoo"
    assert response.json()["stale"] is False
    assert control.count() == 1


@pytest.mark.parametrize("scenario", ["500", "429", "html", "truncated", "nan", "negative"])
async def test_a_failing_or_garbage_provider_falls_through_to_the_next(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    control: StubControl,
    scenario: str,
) -> None:
    control.set(scenario)

    response = await quote(client, alice, "MSFT")

    assert response.status_code == 200, response.text
    assert response.json()["provider"] == "simulated"
    async with app.state.runtime.sessions() as session:
        stored = await storage.last_quote(session, "MSFT")
    assert stored is not None
    assert stored.provider == "simulated"


@pytest.mark.chain(["yahoo"])
async def test_with_every_provider_down_and_nothing_stored_the_answer_is_503_naming_them(
    client: httpx.AsyncClient, alice: Account, control: StubControl
) -> None:
    control.set("500")

    response = await quote(client, alice, "MSFT")

    body = assert_problem(response, 503)
    assert "yahoo" in body["detail"]
    assert "Traceback" not in response.text


@pytest.mark.chain(["yahoo"])
async def test_with_every_provider_down_the_last_stored_quote_is_served_as_stale(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, control: StubControl
) -> None:
    fresh = await quote(client, alice, "MSFT")
    assert fresh.json()["stale"] is False
    await app.state.runtime.get(Cache).delete(quote_key("MSFT"))
    control.set("500")

    stale = await quote(client, alice, "MSFT")

    assert stale.status_code == 200, stale.text
    body = stale.json()
    assert body["stale"] is True
    assert body["provider"] == "yahoo"
    assert Decimal(str(body["price"])) == Decimal(str(fresh.json()["price"]))


@pytest.mark.chain(["yahoo"])
async def test_an_unknown_symbol_is_404_not_a_provider_failure(
    client: httpx.AsyncClient, alice: Account, control: StubControl
) -> None:
    response = await quote(client, alice, "NOPE")

    assert_problem(response, 404)
    assert control.count() == 1


@pytest.mark.chain(["yahoo"])
async def test_concurrent_cold_requests_for_one_symbol_make_one_provider_call(
    client: httpx.AsyncClient, alice: Account, control: StubControl
) -> None:
    control.set("slow", delay=0.3)

    responses = await asyncio.gather(*(quote(client, alice, "BTC-USD") for _ in range(500)))

    assert {response.status_code for response in responses} == {200}
    assert len({response.json()["price"] for response in responses}) == 1
    assert control.count() == 1


async def cold_quotes(markets: list[MarketData], app: FastAPI, symbol: str, n: int) -> set[str]:
    """``n`` concurrent quotes spread over ``markets``, each with its own session; the prices
    they saw (each with its provider, timestamp and staleness, so a failure says where a quote
    that made no provider call came from)."""
    sessionmaker = app.state.runtime.sessions

    async def one(i: int) -> str:
        async with sessionmaker() as session:
            view = await markets[i % len(markets)].quote(session, symbol)
            await session.commit()
            quote = view.quote
            return f"{quote.price} ({quote.provider} at {quote.timestamp}, stale={view.stale})"

    return set(await asyncio.gather(*(one(i) for i in range(n))))


@pytest.mark.chain(["yahoo"])
async def test_concurrent_cold_quotes_in_one_process_make_one_provider_call(
    app: FastAPI, control: StubControl
) -> None:
    control.set("slow", delay=0.3)

    prices = await cold_quotes([app.state.runtime.get(MarketData)], app, "EURUSD=X", 500)

    assert len(prices) == 1
    assert control.count() == 1, prices


@pytest.mark.chain(["yahoo"])
@pytest.mark.xdist_group("redis-quote-lock")  # both backends' runs share one Redis key
async def test_concurrent_cold_quotes_in_two_processes_sharing_redis_make_one_provider_call(
    app: FastAPI, settings: Settings, control: StubControl
) -> None:
    """Two market services with their own providers and cache clients, as two API processes
    have, coalesce through Redis's lock."""
    # A Redis database of its own, and one for each backend's run: other tests (other xdist
    # workers) cache quotes in the usual one, and the other run's quote landing mid-test
    # would answer without any provider call.
    own = 13 if settings.database_url.startswith("sqlite") else 14
    redis_url = service_url("FLINT_TEST_REDIS_URL", "Redis").rsplit("/", 1)[0] + f"/{own}"
    shared = settings.model_copy(update={"redis_url": redis_url})
    caches = [create_cache(redis_url), create_cache(redis_url)]
    markets = [build_market(shared, cache) for cache in caches]
    symbol = "MSFT"
    await caches[0].delete(quote_key(symbol))
    control.set("slow", delay=0.5)
    try:
        prices = await cold_quotes(markets, app, symbol, 200)
    finally:
        await caches[0].delete(quote_key(symbol))
        for market, cache in zip(markets, caches, strict=True):
            await market.aclose()
            await cache.close()

    assert len(prices) == 1
    assert control.count() == 1, prices


HISTORY_SYMBOLS = ["AAPL", "MSFT", "BTC-USD", "EURUSD=X", "GOOG", "AMZN"]
"""Four the Yahoo stub charts, two it does not know (the simulated market answers for those)."""
HISTORY_WINDOW = (date(2024, 3, 4), date(2024, 3, 8))


@pytest.mark.chain(["yahoo", "simulated"])
@pytest.mark.settings(vendor_read_timeout=60.0)  # held answers are no timeouts here
async def test_missing_history_is_asked_for_a_few_symbols_at_a_time(
    app: FastAPI, control: StubControl
) -> None:
    """Each symbol's fortnight before an import's buys used to be a Yahoo round trip after the
    last one had answered. The stub holds every chart until the test lets it go, so how many
    are in flight at once is counted, not timed."""
    market = app.state.runtime.get(MarketData)
    control.set("slow", delay=HOLD)
    most = 0
    async with app.state.runtime.sessions() as session:
        fetching = asyncio.create_task(
            market.missing_history(session, dict.fromkeys(HISTORY_SYMBOLS, HISTORY_WINDOW))
        )
        for _ in range(1000):  # up to 10 s for them to arrive
            if control.held >= HISTORY_FETCHES:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # room for a fifth, were the bound not kept
        while not fetching.done():
            most = max(most, control.held)
            control.release()
            await asyncio.sleep(0.02)
        series = await fetching

    assert most == HISTORY_FETCHES
    assert [item.symbol for item in series] == HISTORY_SYMBOLS
    assert {item.symbol: item.provider for item in series} == {
        "AAPL": "yahoo",
        "MSFT": "yahoo",
        "BTC-USD": "yahoo",
        "EURUSD=X": "yahoo",
        "GOOG": "simulated",
        "AMZN": "simulated",
    }
    assert all(item.bars for item in series if item.symbol != "AAPL")  # AAPL's: another year
    assert charted(control) == sorted(HISTORY_SYMBOLS)


def charted(control: StubControl) -> list[str]:
    return sorted(seen.path.rsplit("/", 1)[-1] for seen in control.requests if "chart" in seen.path)


@pytest.mark.chain(["yahoo"])
async def test_missing_history_asks_for_every_symbol_then_fails_or_skips_those_unanswered(
    app: FastAPI, control: StubControl
) -> None:
    market = app.state.runtime.get(MarketData)
    windows = dict.fromkeys(["MSFT", "BTC-USD", "EURUSD=X"], HISTORY_WINDOW)
    control.set("500")
    async with app.state.runtime.sessions() as session:
        with pytest.raises(ProvidersFailed):
            await market.missing_history(session, windows)
        asked = charted(control)
        kept = await market.missing_history(session, windows, skip_failed=True)
        control.set("500", times=1)  # the first answer lost: that symbol left out, not the rest
        some = await market.missing_history(session, windows, skip_failed=True)

    assert sorted(set(asked)) == sorted(windows)
    assert kept == []
    assert len(some) == 2
    assert {item.provider for item in some} == {"yahoo"}


@pytest.mark.chain(["yahoo"])
async def test_a_symbol_no_provider_knows_is_left_out_of_a_backfill_not_the_end_of_it(
    app: FastAPI, control: StubControl
) -> None:
    """GOOG is in Flint's universe but not in the Yahoo stub's (its 404, "No data found"): a
    backfill or an import's checks that skip what no provider answers for skip it too, rather
    than failing for every symbol with a 404 "Unknown symbol"."""
    market = app.state.runtime.get(MarketData)
    windows = dict.fromkeys(["MSFT", "GOOG", "BTC-USD"], HISTORY_WINDOW)
    async with app.state.runtime.sessions() as session:
        with pytest.raises(NotFound):
            await market.missing_history(session, windows)
        kept = await market.missing_history(session, windows, skip_failed=True)
        lacking = await market.without_history(session, {"GOOG": HISTORY_WINDOW[1]})

    assert [item.symbol for item in kept] == ["MSFT", "BTC-USD"]
    assert lacking == {}  # the benefit of the doubt, as for a vendor that is down


@pytest.mark.chain(["yahoo"])
async def test_an_import_buying_a_symbol_no_provider_has_is_imported(
    client: httpx.AsyncClient, alice: Account, control: StubControl
) -> None:
    created = await client.post("/api/v1/portfolio/", json={"name": "P"}, headers=alice.headers)
    portfolio_id = created.json()["portfolioId"]
    ledger = "date,symbol,type,quantity,price,amount\n2024-03-04,,deposit,,,1000\n"
    ledger += "2024-03-05,MSFT,buy,1,400,\n2024-03-05,GOOG,buy,1,130,\n"

    response = await client.post(
        f"/api/v1/portfolio/{portfolio_id}/import",
        content=ledger,
        headers=alice.headers | {"Content-Type": "text/csv"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["imported"] == {"deposit": 1, "buy": 2}
