"""The quote fan-out when Redis goes away and comes back: no quote of this process is lost
meanwhile (delivered here while its subscriber is not subscribed, and published again on a
fresh connection when the pooled one died with the server), and the subscriber is back on the
channel within 2 s of Redis returning. Redis sits behind a `faults.Gate`, so no other test
loses its server; the channel is this test's own (pub/sub channels span Redis's databases)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from flint.config import Settings
from flint.market.stream import publish_to_redis
from flint.market.stream.broadcast import RedisBroadcast
from tests.conftest import service_url, sign_up
from tests.market.stream_client import exchange, receive, serving, stream
from tests.market.test_stream import current, moved
from tests.system.faults import Gate

pytestmark = [pytest.mark.waits, pytest.mark.xdist_group("redis-gate")]

DATABASE = 10
OUTAGE = 4.0
"""Long enough for a subscriber's backoff to have grown past what a prompt return allows."""
RESUBSCRIBED_WITHIN = 2.0


@pytest.fixture
async def gate() -> AsyncIterator[Gate]:
    real = aioredis.Redis.from_url(service_url("FLINT_TEST_REDIS_URL", "Redis"))
    host = real.connection_pool.connection_kwargs.get("host", "127.0.0.1")
    port = real.connection_pool.connection_kwargs.get("port", 6379)
    await real.aclose()
    opened = Gate(host, port)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.shut()


def through(gate: Gate) -> str:
    return f"redis://127.0.0.1:{gate.port}/{DATABASE}"


@pytest.fixture
async def admin() -> AsyncIterator[aioredis.Redis]:
    """Redis itself, not through the gate: what the server sees."""
    base = service_url("FLINT_TEST_REDIS_URL", "Redis").rsplit("/", 1)[0]
    async with aioredis.Redis.from_url(f"{base}/{DATABASE}") as client:
        yield client


async def subscribed(admin: aioredis.Redis, channel: str, count: int) -> bool:
    """Whether the server has ``count`` subscribers on ``channel``."""
    counts = await admin.pubsub_numsub(channel)
    return int(counts[0][1]) == count


async def until(what: str, check: Callable[[], Any], within: float = 15.0) -> float:
    """Poll ``check`` (maybe async) until it is true; the seconds it took."""
    started = time.monotonic()
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            pytest.fail(f"{what}: not within {within:g} s")
        await asyncio.sleep(0.02)


async def test_a_broadcast_loses_no_quote_and_resubscribes_within_2_s_of_redis_returning(
    gate: Gate, admin: aioredis.Redis
) -> None:
    channel = f"flint:quotes:test-{uuid.uuid4().hex}"
    here, there = RedisBroadcast(through(gate), channel), RedisBroadcast(through(gate), channel)
    got: dict[str, list[str]] = {"here": [], "there": [], "redis": []}

    def recorder(name: str) -> Callable[[str], Any]:
        async def deliver(text: str) -> None:
            got[name].append(text)

        return deliver

    # What reached Redis itself, heard on the channel past the gate.
    heard = admin.pubsub(ignore_subscribe_messages=True)
    await heard.subscribe(channel)

    async def listen() -> None:
        while True:
            message = await heard.get_message(timeout=1)
            if message is not None:
                await recorder("redis")(message["data"].decode())

    listening = asyncio.create_task(listen())
    await here.start(recorder("here"))
    await there.start(recorder("there"))
    try:
        await until("both subscribed", lambda: subscribed(admin, channel, 3))
        await here.publish(["before"])
        await until("'before' everywhere", lambda: "before" in got["there"])

        await gate.shut()
        await until("both cut off", lambda: subscribed(admin, channel, 1))
        await there.publish(["during"])
        await asyncio.sleep(OUTAGE)
        await gate.open()
        reopened = time.monotonic()
        await here.publish(["just-after"])  # on the pooled connection the outage closed
        await here.publish(["then"])  # before the subscriber is back
        await until("both subscribed again", lambda: subscribed(admin, channel, 3))
        resubscribed = time.monotonic() - reopened
        print(f"resubscribed {resubscribed:.2f} s after Redis returned")
        await here.publish(["after"])
        await until("'after' everywhere", lambda: all("after" in texts for texts in got.values()))
    finally:
        listening.cancel()
        await here.stop()
        await there.stop()
        await heard.aclose()

    assert resubscribed <= RESUBSCRIBED_WITHIN, f"resubscribed {resubscribed:.2f} s after"
    # Each process's clients had every quote it published; duplicates are the hub's to drop.
    assert list(dict.fromkeys(got["here"])) == ["before", "just-after", "then", "after"]
    assert list(dict.fromkeys(got["there"])) == ["before", "during", "after"]
    # Every publish once Redis was back reached it, the first one too (on a fresh connection).
    assert got["redis"] == ["before", "just-after", "then", "after"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_websocket_clients_get_every_quote_through_a_redis_outage(
    settings: Settings, gate: Gate, admin: aioredis.Redis
) -> None:
    channel = f"flint:quotes:test-{uuid.uuid4().hex}"
    app_settings = settings.model_copy(
        update={
            "jwt_secret": SecretStr("stream-outage-secret-0123456789abcdef"),
            "redis_url": through(gate),
            "stream_channel": channel,
            "stream_poll_seconds": 0.0,
            "stream_ping_seconds": 0.0,
        }
    )
    async with serving(app_settings) as served:
        carol = await sign_up(served.http, f"carol-{uuid.uuid4().hex[:6]}@example.com")
        async with stream(served, carol.token) as ws:
            await exchange(ws, {"action": "subscribe", "symbols": ["SOL-USD"]})
            await until("the hub subscribed", lambda: subscribed(admin, channel, 1))
            base = await current(served, "SOL-USD")
            during, just_after, then, other = (moved(base, s) for s in (10, 20, 30, 40))

            await gate.shut()
            await until("the hub cut off", lambda: subscribed(admin, channel, 0))
            await served.hub.publish_quotes([during])
            await asyncio.sleep(OUTAGE)
            await gate.open()
            reopened = time.monotonic()
            await served.hub.publish_quotes([just_after])
            await served.hub.publish_quotes([then])
            await until("the hub subscribed again", lambda: subscribed(admin, channel, 1))
            resubscribed = time.monotonic() - reopened
            print(f"resubscribed {resubscribed:.2f} s after Redis returned")
            # Published by another process (a Celery task): it arrives only through Redis.
            assert await publish_to_redis(app_settings, [other]) == 1

            received = [await receive(ws, within=10) for _ in range(4)]

    assert resubscribed <= RESUBSCRIBED_WITHIN, f"resubscribed {resubscribed:.2f} s after"
    assert [Decimal(str(message["price"])) for message in received] == [
        quote.price for quote in (during, just_after, then, other)
    ]
