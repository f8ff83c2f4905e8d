"""The live quote stream over a real socket: authentication, subscriptions and their snapshots,
errors that keep the connection open, the symbol cap, dropping slow clients, deduplication, the
poller, pings and fan-out through Redis."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from pydantic import SecretStr
from websockets.exceptions import ConnectionClosed

from flint.config import Settings
from flint.market.providers.simulated import SimulatedMarket
from flint.market.providers.types import Quote
from flint.market.stream import QuoteHub, publish_to_redis
from flint.market.universe import load_universe
from flint.users.models import User
from flint.users.tokens import TokenIssuer
from tests.conftest import Account, service_url, sign_up
from tests.market.stream_client import (
    Served,
    exchange,
    open_socket,
    receive,
    send,
    serving,
    stream,
)

pytestmark = pytest.mark.waits

SECRET = "stream-tests-secret-0123456789abcdef"
QUOTE_KEYS = {"type", "symbol", "price", "change", "changePercent", "volume", "timestamp"}

Start = Callable[..., Awaitable[Served]]


@pytest.fixture
async def start(settings: Settings) -> AsyncIterator[Start]:
    """Serve the app with these setting overrides; by default no poller and no pings, so a
    test sees only what it causes."""
    async with contextlib.AsyncExitStack() as stack:

        async def start_server(send_buffer: int | None = None, **overrides: Any) -> Served:
            values = {
                "jwt_secret": SecretStr(SECRET),
                "stream_poll_seconds": 0.0,
                "stream_ping_seconds": 0.0,
                **overrides,
            }
            app_settings = settings.model_copy(update=values)
            return await stack.enter_async_context(serving(app_settings, send_buffer))

        yield start_server


@pytest.fixture
async def served(start: Start) -> Served:
    return await start()


@pytest.fixture
async def carol(served: Served) -> Account:
    return await sign_up(served.http, "carol@example.com")


def moved(quote: Quote, seconds: int, price: str | None = None) -> Quote:
    """The quote ``seconds`` later, at ``price`` (default: one cent per second up)."""
    new_price = Decimal(price) if price else quote.price + Decimal("0.01") * seconds
    return replace(
        quote,
        price=new_price,
        change=new_price - quote.previous_close,
        timestamp=quote.timestamp + timedelta(seconds=seconds),
        provider="test",
    )


def iso(quote: Quote) -> str:
    return quote.timestamp.isoformat().replace("+00:00", "Z")


async def current(served: Served, symbol: str) -> Quote:
    async with served.hub.sessionmaker() as session:
        return (await served.hub.market.quote(session, symbol)).quote


async def wait_for(condition: Callable[[], bool], what: str, within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what} within {within:g} s")
        await asyncio.sleep(0.01)


async def close_code(ws: Any, within: float = 10.0) -> int:
    """Read until the server closes the connection; its close code."""

    async def read_all() -> None:
        while True:
            await asyncio.wait_for(ws.recv(), within)

    with pytest.raises(ConnectionClosed) as closed:
        await read_all()
    assert closed.value.rcvd is not None, "closed without a close frame"
    return closed.value.rcvd.code


# --- authentication ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/market/ws", "/api/market/ws"])
async def test_a_token_in_the_url_opens_the_stream_on_both_prefixes(
    served: Served, carol: Account, path: str
) -> None:
    async with open_socket(served.url(carol.token, path)) as ws:
        assert await receive(ws) == {"type": "ready", "maxSymbols": 100, "pingSeconds": 0.0}
        replies = await exchange(ws, {"action": "subscribe", "symbols": ["AAPL"]})
    assert [reply["type"] for reply in replies] == ["quote", "subscriptions"]


async def test_a_token_in_the_first_message_opens_the_stream(
    served: Served, carol: Account
) -> None:
    async with open_socket(served.url()) as ws:
        await send(ws, {"action": "auth", "token": carol.token})
        assert (await receive(ws))["type"] == "ready"
        replies = await exchange(ws, {"action": "subscribe", "symbols": ["MSFT"]})
    assert replies[0]["symbol"] == "MSFT"


def expired_token(account: Account) -> str:
    return TokenIssuer(SECRET, timedelta(minutes=-10)).issue(uuid.UUID(account.user_id), 0)


@pytest.mark.parametrize("how", ["garbage", "expired", "other-secret"])
async def test_a_bad_token_in_the_url_closes_with_4401(
    served: Served, carol: Account, how: str
) -> None:
    token = {
        "garbage": "not-a-jwt",
        "expired": expired_token(carol),
        "other-secret": TokenIssuer("x" * 40, timedelta(minutes=5)).issue(
            uuid.UUID(carol.user_id), 0
        ),
    }[how]
    async with open_socket(served.url(token)) as ws:
        assert await close_code(ws) == 4401
    assert served.hub.clients == 0


@pytest.mark.parametrize(
    "first",
    [
        "expired",
        {"action": "subscribe", "symbols": ["AAPL"]},
        {"action": "auth", "token": 42},
        "not json",
    ],
)
async def test_a_first_message_without_a_valid_token_closes_with_4401(
    served: Served, carol: Account, first: Any
) -> None:
    async with open_socket(served.url()) as ws:
        if first == "expired":
            await send(ws, {"action": "auth", "token": expired_token(carol)})
        elif isinstance(first, str):
            await ws.send(first)
        else:
            await send(ws, first)
        assert await close_code(ws) == 4401


async def test_no_token_within_the_auth_timeout_closes_with_4401(served: Served) -> None:
    served.hub.auth_timeout = 0.3
    async with open_socket(served.url()) as ws:
        assert await close_code(ws, within=5) == 4401


async def test_a_token_of_a_signed_out_session_is_refused(served: Served, carol: Account) -> None:
    """Sign-out everywhere bumps the token version; the stream checks it like every route."""
    async with served.app.state.runtime.sessions() as session:
        user = await session.get(User, uuid.UUID(carol.user_id))
        assert user is not None
        user.token_version += 1
        await session.commit()
    async with open_socket(served.url(carol.token)) as ws:
        assert await close_code(ws) == 4401


# --- subscriptions -----------------------------------------------------------------------------
async def test_subscribing_sends_each_current_quote_at_once_equal_to_the_rest_quote(
    served: Served, carol: Account
) -> None:
    async with stream(served, carol.token) as ws:
        replies = await exchange(ws, {"action": "subscribe", "symbols": ["aapl", "BTC-USD"]})

    quotes = {reply["symbol"]: reply for reply in replies if reply["type"] == "quote"}
    assert replies[-1] == {"type": "subscriptions", "symbols": ["AAPL", "BTC-USD"]}
    assert set(quotes) == {"AAPL", "BTC-USD"}
    for symbol, quote in quotes.items():
        assert set(quote) == QUOTE_KEYS
        assert all(isinstance(quote[key], str) for key in ("price", "change"))
        assert isinstance(quote["volume"], int)
        assert isinstance(quote["changePercent"], int | float)
        rest = await served.http.get(f"/api/v1/market/real-time/{symbol}", headers=carol.headers)
        assert rest.status_code == 200, rest.text
        body = rest.json()
        expected = {key: body[key] for key in QUOTE_KEYS - {"type"}}
        assert {key: quote[key] for key in QUOTE_KEYS - {"type"}} == expected
        assert quote["timestamp"].endswith("Z")


async def test_quotes_published_after_subscribing_reach_the_client(
    served: Served, carol: Account
) -> None:
    async with stream(served, carol.token) as ws:
        await exchange(ws, {"action": "subscribe", "symbols": ["ETH-USD"]})
        later = moved(await current(served, "ETH-USD"), 5)
        await served.hub.publish_quotes([later])

        message = await receive(ws)

    assert message["symbol"] == "ETH-USD"
    assert Decimal(str(message["price"])) == later.price
    assert message["timestamp"] == iso(later)


async def test_unsubscribing_stops_the_symbols_updates(served: Served, carol: Account) -> None:
    async with stream(served, carol.token) as ws:
        await exchange(ws, {"action": "subscribe", "symbols": ["BTC-USD", "ETH-USD"]})
        replies = await exchange(ws, {"action": "unsubscribe", "symbols": ["btc-usd"]})
        assert replies == [{"type": "subscriptions", "symbols": ["ETH-USD"]}]
        assert served.hub.symbols() == {"ETH-USD"}

        btc, eth = await current(served, "BTC-USD"), await current(served, "ETH-USD")
        await served.hub.publish_quotes([moved(btc, 5), moved(eth, 5)])

        assert (await receive(ws))["symbol"] == "ETH-USD"
        with pytest.raises(TimeoutError):
            await receive(ws, within=0.3)


async def test_bad_symbols_get_errors_and_the_good_ones_are_subscribed(
    served: Served, carol: Account
) -> None:
    async with stream(served, carol.token) as ws:
        replies = await exchange(
            ws, {"action": "subscribe", "symbols": ["AA$PL", "NOPE123", "AAPL", "A" * 16]}
        )

    errors = {reply["symbol"]: reply["detail"] for reply in replies if reply["type"] == "error"}
    assert set(errors) == {"AA$PL", "NOPE123", "A" * 16}
    assert "invalid symbol" in errors["AA$PL"].lower()
    assert errors["NOPE123"] == "Unknown symbol NOPE123."
    assert [reply["symbol"] for reply in replies if reply["type"] == "quote"] == ["AAPL"]
    assert replies[-1] == {"type": "subscriptions", "symbols": ["AAPL"]}


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        ("not json", "Send JSON objects"),
        ("[1, 2]", "Send JSON objects"),
        ('{"action": "dance"}', "Unknown action 'dance'"),
        ('{"action": "subscribe", "symbols": "AAPL"}', "`symbols` must be a list of strings"),
        ('{"action": "subscribe", "symbols": [1]}', "`symbols` must be a list of strings"),
        ('{"action": "auth", "token": "again"}', "Unknown action 'auth'"),
    ],
)
async def test_a_malformed_message_gets_an_error_and_the_connection_keeps_working(
    served: Served, carol: Account, message: str, detail: str
) -> None:
    async with stream(served, carol.token) as ws:
        await ws.send(message)
        error = await receive(ws)
        replies = await exchange(ws, {"action": "subscribe", "symbols": ["MSFT"]})

    assert error["type"] == "error"
    assert error["detail"].startswith(detail)
    assert [reply["type"] for reply in replies] == ["quote", "subscriptions"]


async def test_a_client_pings_and_the_server_answers_pong(served: Served, carol: Account) -> None:
    async with stream(served, carol.token) as ws:
        await send(ws, {"action": "ping"})
        assert await receive(ws) == {"type": "pong"}


def known_symbols(count: int) -> list[str]:
    return sorted(item.symbol for item in load_universe())[:count]


@pytest.mark.timeout(180)
async def test_a_connection_holds_at_most_100_symbols(served: Served, carol: Account) -> None:
    symbols = known_symbols(101)
    assert len(symbols) == 101
    async with stream(served, carol.token) as ws:
        too_many = await exchange(ws, {"action": "subscribe", "symbols": symbols})
        assert too_many[0]["type"] == "error"
        assert too_many[0]["detail"].startswith("At most 100 symbols per connection")
        assert too_many[1:] == [{"type": "subscriptions", "symbols": []}]

        # 100 cold quotes at once: on a machine busy with other tests this took over 5 s
        full = await exchange(ws, {"action": "subscribe", "symbols": symbols[:100]}, within=60)
        assert sum(reply["type"] == "quote" for reply in full) == 100
        assert full[-1]["symbols"] == symbols[:100]

        one_more = await exchange(ws, {"action": "subscribe", "symbols": symbols[100:]})
        assert one_more[0]["type"] == "error"
        assert "none added" in one_more[0]["detail"]
        assert one_more[-1]["symbols"] == symbols[:100]
        again = await exchange(ws, {"action": "subscribe", "symbols": symbols[:3]})
        assert again == [{"type": "subscriptions", "symbols": symbols[:100]}]
    await wait_for(lambda: not served.hub.symbols(), "the closed connection's symbols released")


# --- fan-out -----------------------------------------------------------------------------------
def slow_socket(port: int) -> socket.socket:
    """A connected socket with a tiny receive buffer, so a client that never reads backs up
    to the server quickly."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


@pytest.mark.timeout(120)
async def test_a_client_that_does_not_read_is_dropped_and_the_others_keep_receiving(
    start: Start,
) -> None:
    served = await start(send_buffer=8192, stream_queue_size=8)
    carol = await sign_up(served.http, "carol@example.com")
    base = await current(served, "BTC-USD")
    subscribe = {"action": "subscribe", "symbols": ["BTC-USD"]}

    slow_connection = open_socket(
        served.url(carol.token), sock=slow_socket(served.port), max_queue=1
    )
    async with slow_connection as slow, stream(served, carol.token) as fast:
        await send(slow, subscribe)  # and never read again
        await exchange(fast, subscribe)
        await wait_for(lambda: served.hub.subscribers("BTC-USD") == 2, "both subscribed")

        published = 0
        while served.hub.clients == 2:
            published += 1
            assert published < 50_000, "the slow client was never dropped"
            await served.hub.publish_quotes([moved(base, published)])
            got = await receive(fast)
            assert got["timestamp"] == iso(moved(base, published))

        for _ in range(20):  # the fast client goes on as before
            published += 1
            await served.hub.publish_quotes([moved(base, published)])
            assert Decimal(str((await receive(fast))["price"])) == moved(base, published).price

        assert served.hub.subscribers("BTC-USD") == 1
        assert await close_code(slow) == 1013


async def test_a_burst_is_fanned_out_one_quote_after_the_other_in_publish_order(
    served: Served, carol: Account
) -> None:
    """Each quote is written to every client's connection before the next one is fanned out:
    the publisher never leaves a backlog in the queues of clients that keep up."""
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(stream(served, carol.token)) for _ in range(3)]
        for ws in clients:
            await exchange(ws, {"action": "subscribe", "symbols": ["ETH-USD"]})
        base = await current(served, "ETH-USD")
        burst = [moved(base, second) for second in range(1, 31)]

        await served.hub.publish_quotes(burst)
        assert served.hub.backlog() == 0

        for ws in clients:
            received = [await receive(ws) for _ in burst]
            assert [message["timestamp"] for message in received] == [iso(q) for q in burst]


async def test_a_quote_is_delivered_once_however_often_it_is_published(
    served: Served, carol: Account
) -> None:
    async with stream(served, carol.token) as ws:
        snapshot = (await exchange(ws, {"action": "subscribe", "symbols": ["BTC-USD"]}))[0]
        base = await current(served, "BTC-USD")
        later = moved(base, 10)
        same_time_new_price = moved(base, 10, price=str(later.price + 1))
        older = moved(base, 5)
        marker = moved(base, 20)

        await served.hub.publish_quotes([base, later])
        await served.hub.publish_quotes([later, later])
        await served.hub.publish_quotes([older, same_time_new_price, same_time_new_price])
        await served.hub.publish_quotes([marker])

        received = [await receive(ws) for _ in range(3)]
        with pytest.raises(TimeoutError):
            await receive(ws, within=0.3)

    assert Decimal(str(snapshot["price"])) == base.price
    assert [Decimal(str(message["price"])) for message in received] == [
        later.price,
        same_time_new_price.price,
        marker.price,
    ]


async def test_polling_publishes_only_the_quotes_that_changed(
    served: Served, carol: Account
) -> None:
    async with stream(served, carol.token) as ws:
        await exchange(ws, {"action": "subscribe", "symbols": ["AAPL", "MSFT"]})

        assert await served.hub.poll_once() == 2
        assert await served.hub.poll_once() == 0  # still the cached quotes


@pytest.mark.timeout(60)
async def test_the_poller_sends_new_quotes_as_the_price_moves(start: Start) -> None:
    """Simulated crypto trades around the clock and ticks every 5 s."""
    served = await start(stream_poll_seconds=0.2, quote_ttl_seconds=0.5)
    carol = await sign_up(served.http, "carol@example.com")
    async with stream(served, carol.token) as ws:
        snapshot = (await exchange(ws, {"action": "subscribe", "symbols": ["BTC-USD"]}))[0]
        update = await receive(ws, within=15)

    assert update["type"] == "quote"
    assert update["symbol"] == "BTC-USD"
    assert update["timestamp"] > snapshot["timestamp"]


async def test_the_server_pings_idle_clients(start: Start) -> None:
    served = await start(stream_ping_seconds=0.2)
    carol = await sign_up(served.http, "carol@example.com")
    async with open_socket(served.url(carol.token)) as ws:
        ready = await receive(ws)
        assert ready["pingSeconds"] == 0.2
        message = await asyncio.wait_for(ws.recv(), 3)
    assert message == '{"type":"ping"}'


async def test_closing_the_runtime_stops_a_hub_started_without_the_lifespan(
    app: FastAPI,
) -> None:
    hub = app.state.runtime.get(QuoteHub)
    assert not hub.running

    await hub.start()  # as the first connection would
    assert hub.running
    await app.state.runtime.aclose()

    assert not hub.running


async def test_a_celery_task_can_publish_to_the_clients_of_every_process(start: Start) -> None:
    redis_url = service_url("FLINT_TEST_REDIS_URL", "Redis")
    channel = f"flint:quotes:test-{uuid.uuid4().hex}"
    served = await start(redis_url=redis_url, stream_channel=channel)
    carol = await sign_up(served.http, f"carol-{uuid.uuid4().hex[:6]}@example.com")
    async with stream(served, carol.token) as ws:
        await exchange(ws, {"action": "subscribe", "symbols": ["SOL-USD"]})
        async with aioredis.Redis.from_url(redis_url) as admin:

            async def listeners() -> int:
                counts = await admin.pubsub_numsub(channel)
                return int(counts[0][1])

            for _ in range(100):
                if await listeners():
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the hub never subscribed to the channel")
        base = await current(served, "SOL-USD")
        by_url, by_settings = moved(base, 30), moved(base, 40)

        published = [
            await publish_to_redis(redis_url, [by_url], channel),
            await publish_to_redis(served.app.state.runtime.settings, [by_settings]),
        ]
        messages = [await receive(ws), await receive(ws)]

    assert published == [1, 1]
    assert [message["symbol"] for message in messages] == ["SOL-USD", "SOL-USD"]
    assert [Decimal(str(message["price"])) for message in messages] == [
        by_url.price,
        by_settings.price,
    ]


async def test_publishing_to_redis_without_redis_configured_publishes_nothing() -> None:
    quote = await SimulatedMarket().quote("BTC-USD")
    settings = Settings(_env_file=None, redis_url=None)  # type: ignore[call-arg]
    assert await publish_to_redis(settings, [quote]) == 0
