"""The fan-out between API processes: the broadcast Protocol, its in-process and Redis pub/sub
backends, and publishing from outside an API process (a Celery task)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

import redis
import redis.asyncio as aioredis
import structlog

from flint.config import Settings
from flint.market.providers.types import Quote
from flint.market.stream.messages import quote_message

log = structlog.get_logger(__package__)  # one logger name for the whole stream

DEFAULT_CHANNEL = "flint:quotes"

Deliver = Callable[[str], Awaitable[None]]
"""The hub's fan-out of one message; it returns once this process's clients have it (written to
their connections, or queued for those still busy with earlier ones), so a burst is fanned out
one message after the other, never all at once."""


class Broadcast(Protocol):
    """Carries quote messages to the hub of every API process (this one included)."""

    async def start(self, deliver: Deliver) -> None: ...

    async def publish(self, messages: Sequence[str]) -> None: ...

    async def stop(self) -> None: ...


class LocalBroadcast:
    """One process, no server: publishing is delivering."""

    def __init__(self) -> None:
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def publish(self, messages: Sequence[str]) -> None:
        if self._deliver is not None:
            for message in messages:
                await self._deliver(message)

    async def stop(self) -> None:
        self._deliver = None


class RedisBroadcast:
    """Redis pub/sub on one channel. The subscriber reconnects with backoff; while Redis is
    unreachable a publish is delivered locally, so this process's clients keep their quotes."""

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        self.url = url
        self.channel = channel
        self._client: aioredis.Redis | None = None
        self._deliver: Deliver | None = None
        self._listener: asyncio.Task[None] | None = None

    def _redis(self) -> aioredis.Redis:
        """Made on first use, inside the event loop that will use it."""
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self.url, health_check_interval=30, socket_keepalive=True
            )
        return self._client

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._listener = asyncio.create_task(self._listen(), name="flint-stream-subscriber")

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                delay = 0.5
                while True:
                    # A timeout, not listen(): each return lets the health check ping Redis.
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30)
                    if message is not None and message["type"] == "message":
                        await self._receive(message["data"])
            except (redis.RedisError, OSError) as exc:
                log.warning("stream_subscriber_lost", error=str(exc), retry_in=delay)
            except Exception:
                log.exception("stream_subscriber_failed", retry_in=delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _receive(self, data: bytes | str) -> None:
        if self._deliver is not None:
            await self._deliver(
                data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            )

    async def publish(self, messages: Sequence[str]) -> None:
        if not messages:
            return
        try:
            async with self._redis().pipeline(transaction=False) as pipe:
                for message in messages:
                    pipe.publish(self.channel, message)
                await pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("stream_publish_failed", error=str(exc), messages=len(messages))
            if self._deliver is not None:
                for message in messages:
                    await self._deliver(message)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        self._deliver = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def create_broadcast(redis_url: str | None, channel: str = DEFAULT_CHANNEL) -> Broadcast:
    return RedisBroadcast(redis_url, channel) if redis_url else LocalBroadcast()


async def publish_to_redis(
    target: Settings | str, quotes: Iterable[Quote], channel: str | None = None
) -> int:
    """Publish quotes to the clients of every API process from outside them (a Celery task):
    ``target`` is the settings (their Redis URL and channel) or a Redis URL. Returns how many
    were published. Without Redis nothing can be reached: each API process polls for itself."""
    if isinstance(target, Settings):
        url, channel = target.redis_url, channel or target.stream_channel
        if url is None:
            return 0
    else:
        url = target
    messages = [quote_message(quote) for quote in quotes]
    if not messages:
        return 0
    client = aioredis.Redis.from_url(url)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(channel or DEFAULT_CHANNEL, message)
            await pipe.execute()
    finally:
        await client.aclose()
    return len(messages)
