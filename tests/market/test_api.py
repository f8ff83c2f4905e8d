"""The market endpoints on the embedded simulated provider: shapes, validation, ownership-free
reads that still need a token, and storage of what was served."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from flint.market import router, storage
from flint.market.api import MarketData
from flint.market.providers.simulated import SimulatedMarket
from flint.market.providers.types import Interval
from flint.market.service import quote_key, view_of
from tests.conftest import Account, assert_problem, error_fields

QUOTE_KEYS = {
    "symbol",
    "name",
    "price",
    "change",
    "changePercent",
    "open",
    "high",
    "low",
    "previousClose",
    "volume",
    "currency",
    "timestamp",
    "provider",
    "stale",
}


async def test_real_time_quote_has_the_documented_shape_and_consistent_numbers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get("/api/v1/market/real-time/aapl", headers=alice.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == QUOTE_KEYS
    assert body["symbol"] == "AAPL"
    assert body["name"].startswith("Apple")
    assert body["currency"] == "USD"
    assert body["provider"] == "simulated"
    assert body["stale"] is False
    assert body["low"] <= body["price"] <= body["high"]
    price, previous = Decimal(str(body["price"])), Decimal(str(body["previousClose"]))
    assert Decimal(str(body["change"])) == price - previous
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None


async def test_real_time_quote_matches_the_simulated_market(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = (await client.get("/api/market/real-time/MSFT", headers=alice.headers)).json()
    at = datetime.fromisoformat(body["timestamp"])

    expected = await SimulatedMarket().quote("MSFT", now=at + timedelta(seconds=1))

    assert Decimal(str(body["previousClose"])) == expected.previous_close
    assert Decimal(str(body["open"])) == expected.open


async def test_a_served_quote_is_stored_as_the_last_known_quote(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    body = (await client.get("/api/v1/market/real-time/BTC-USD", headers=alice.headers)).json()

    async with app.state.runtime.sessions() as session:
        last = await storage.last_quote(session, "BTC-USD")
    assert last is not None
    assert last.price == Decimal(str(body["price"]))
    assert last.provider == "simulated"


async def test_quotes_are_cached_between_requests(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = (await client.get("/api/v1/market/real-time/ETH-USD", headers=alice.headers)).json()
    second = (await client.get("/api/v1/market/real-time/ETH-USD", headers=alice.headers)).json()

    assert first == second


async def test_a_cached_quote_answers_as_its_model_would_and_a_renewed_one_anew(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    """A cached quote's answer is made once and served again (`router._cached_answer`): the
    same bytes the `RealTimeQuote` model makes, whatever the caller; once the cache holds
    another quote, that one is answered."""
    url = "/api/v1/market/real-time/NVDA"
    first = await client.get(url, headers=alice.headers)
    again = await client.get(url, headers=alice.headers)
    assert first.status_code == again.status_code == 200, first.text
    assert again.content == first.content
    assert first.headers["content-type"] == "application/json"
    market = app.state.runtime.get(MarketData)
    cached = await market.cached_quote_json("NVDA")
    assert cached is not None
    made = router._answer(view_of(cached, market.name_of("NVDA"))).model_dump_json(by_alias=True)
    assert first.content == made.encode()

    renewed = {**cached, "price": str(Decimal(cached["price"]) + 1)}
    await market.cache.set(quote_key("NVDA"), renewed, expire=60)
    after = (await client.get(url, headers=alice.headers)).json()
    assert Decimal(str(after["price"])) == Decimal(cached["price"]) + 1
    assert {k: v for k, v in after.items() if k != "price"} == {
        k: v for k, v in first.json().items() if k != "price"
    }


@pytest.mark.parametrize("symbol", ["NOPE123", "ZZZZZZZZ"])
async def test_unknown_symbol_is_404(
    client: httpx.AsyncClient, alice: Account, symbol: str
) -> None:
    response = await client.get(f"/api/v1/market/real-time/{symbol}", headers=alice.headers)
    body = assert_problem(response, 404)
    assert symbol in body["detail"]


@pytest.mark.parametrize("symbol", ["AA$PL", "A" * 16, "AA%20PL"])
async def test_invalid_symbol_is_422(
    client: httpx.AsyncClient, alice: Account, symbol: str
) -> None:
    response = await client.get(f"/api/v1/market/real-time/{symbol}", headers=alice.headers)
    assert error_fields(assert_problem(response, 422)) == {"path.symbol"}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/market/real-time/AAPL", "/api/v1/market/historical/AAPL", "/api/market/search"],
)
async def test_market_endpoints_need_a_token(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, params={"query": "apple"})
    assert_problem(response, 401)


async def test_history_defaults_to_a_year_of_daily_bars_on_trading_days(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get("/api/v1/market/historical/SPY", headers=alice.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["symbol"], body["interval"], body["currency"]) == ("SPY", "1d", "USD")
    bars = body["bars"]
    assert 240 <= len(bars) <= 253
    stamps = [datetime.fromisoformat(bar["timestamp"]) for bar in bars]
    assert stamps == sorted(stamps)
    assert all(stamp.weekday() < 5 for stamp in stamps)
    for bar in bars:
        assert bar["low"] <= min(bar["open"], bar["close"])
        assert bar["high"] >= max(bar["open"], bar["close"])
        assert set(bar) == {"timestamp", "open", "high", "low", "close", "adjClose", "volume"}


async def test_history_for_a_range_equals_the_provider_bars_and_is_stored(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    params = {"start": "2024-01-01", "end": "2024-03-31", "interval": "1d"}
    response = await client.get(
        "/api/v1/market/historical/AAPL", params=params, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    expected = await SimulatedMarket().history("AAPL", date(2024, 1, 1), date(2024, 3, 31))
    bars = response.json()["bars"]
    assert [Decimal(str(bar["close"])) for bar in bars] == [bar.close for bar in expected]
    assert datetime.fromisoformat(bars[0]["timestamp"]) == expected[0].timestamp
    async with app.state.runtime.sessions() as session:
        stored = await storage.load_bars(
            session,
            "AAPL",
            Interval.D1,
            datetime(2024, 1, 1, tzinfo=UTC),
            datetime(2024, 4, 1, tzinfo=UTC),
        )
    assert [bar.close for bar in stored] == [bar.close for bar in expected]


async def test_history_of_either_spelling_is_the_markets_and_stored_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    """A quote of ``BRK.B`` answers as ``BRK-B``; its history answered as ``BRK.B`` and was
    fetched and stored a second time under that spelling."""
    params = {"start": "2024-01-02", "end": "2024-01-31"}
    dotted = await client.get(
        "/api/v1/market/historical/brk.b", params=params, headers=alice.headers
    )
    dashed = await client.get(
        "/api/v1/market/historical/BRK-B", params=params, headers=alice.headers
    )

    assert dotted.status_code == 200, dotted.text
    assert dotted.json() == dashed.json()
    assert dotted.json()["symbol"] == "BRK-B"
    assert len(dotted.json()["bars"]) == 21  # January 2024's sessions
    async with app.state.runtime.sessions() as session:
        spelt = {
            name: await storage.load_bars(
                session,
                name,
                Interval.D1,
                datetime(2024, 1, 1, tzinfo=UTC),
                datetime(2024, 2, 1, tzinfo=UTC),
            )
            for name in ("BRK.B", "BRK-B")
        }
    assert (len(spelt["BRK.B"]), len(spelt["BRK-B"])) == (0, 21)


async def test_crypto_history_has_a_bar_every_day(
    client: httpx.AsyncClient, alice: Account
) -> None:
    params = {"start": "2024-01-01", "end": "2024-01-31"}
    response = await client.get(
        "/api/v1/market/historical/BTC-USD", params=params, headers=alice.headers
    )
    assert len(response.json()["bars"]) == 31


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2024-02-01", "end": "2024-01-01"}, "query.start"),
        ({"start": "1980-01-01", "end": "2024-01-01"}, "query.start"),
        ({"start": "2024-01-01", "end": "2024-12-31", "interval": "1m"}, "query.start"),
        ({"interval": "2h"}, "query.interval"),
        ({"start": "yesterday"}, "query.start"),
        ({"end": "2024-13-01"}, "query.end"),
    ],
)
async def test_bad_history_requests_are_422_naming_the_field(
    client: httpx.AsyncClient, alice: Account, params: dict[str, str], field: str
) -> None:
    response = await client.get(
        "/api/v1/market/historical/AAPL", params=params, headers=alice.headers
    )
    assert field in error_fields(assert_problem(response, 422))


async def test_intraday_history_stays_inside_session_hours(
    client: httpx.AsyncClient, alice: Account
) -> None:
    params = {"start": "2024-03-04", "end": "2024-03-05", "interval": "1h"}
    response = await client.get(
        "/api/v1/market/historical/AAPL", params=params, headers=alice.headers
    )
    bars = response.json()["bars"]
    assert bars
    for bar in bars:
        stamp = datetime.fromisoformat(bar["timestamp"])
        assert (13, 30) <= (stamp.hour, stamp.minute) < (21, 0)  # 09:30-16:00 New York (EST)


@pytest.mark.parametrize(
    ("query", "first"),
    [("apple", "AAPL"), ("MSF", "MSFT"), ("bitcoin", "BTC-USD"), ("spy", "SPY")],
)
async def test_search_ranks_symbols_then_prefixes_then_names(
    client: httpx.AsyncClient, alice: Account, query: str, first: str
) -> None:
    response = await client.get(
        "/api/v1/market/search", params={"query": query}, headers=alice.headers
    )
    results = response.json()["results"]
    assert results[0]["symbol"] == first
    assert set(results[0]) == {"symbol", "name", "type", "exchange", "currency"}


async def test_search_results_are_limited_and_typed(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get(
        "/api/v1/market/search", params={"query": "a", "limit": 3}, headers=alice.headers
    )
    results = response.json()["results"]
    assert len(results) == 3
    assert {item["type"] for item in results} <= {"equity", "etf", "crypto", "fx", "index", "fund"}


@pytest.mark.parametrize(
    "params", [{}, {"query": ""}, {"query": "a", "limit": 0}, {"query": "a", "limit": 51}]
)
async def test_bad_search_requests_are_422(
    client: httpx.AsyncClient, alice: Account, params: dict[str, object]
) -> None:
    response = await client.get("/api/v1/market/search", params=params, headers=alice.headers)
    assert_problem(response, 422)


@pytest.mark.parametrize("end", ["0001-01-01", "0001-06-30"])
async def test_a_history_ending_in_the_first_year_there_is_answers_without_an_error(
    client: httpx.AsyncClient, alice: Account, end: str
) -> None:
    """The default window (the year before ``end``) began before the first day there is: 500."""
    response = await client.get(
        "/api/v1/market/historical/AAPL", params={"end": end}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["bars"] == []
