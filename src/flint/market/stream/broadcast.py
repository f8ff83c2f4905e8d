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
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

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


RESUBSCRIBE_FIRST = 0.25
RESUBSCRIBE_MAX = 1.0
"""Seconds between the subscriber's attempts while Redis is away (doubling up to this): back
within a second of Redis, and a connection attempt a second is nothing to Redis."""


class RedisBroadcast:
    """Redis pub/sub on one channel. While this process's subscriber is not on the channel
    (Redis unreachable, or back but not yet subscribed to again) a publish is delivered here
    too, so this process's clients lose no quote (the hub drops what arrives twice); the
    subscriber tries again every second at most. A publish that fails is tried once more on
    a fresh connection (the pooled one may be a connection the server closed)."""

    def __init__(self, url: str, channel: str = DEFAULT_CHANNEL) -> None:
        self.url = url
        self.channel = channel
        self._client: aioredis.Redis | None = None
        self._deliver: Deliver | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = False

    @property
    def subscribed(self) -> bool:
        """Whether Redis has confirmed this process's subscription (and it has not failed)."""
        return self._subscribed

    def _redis(self) -> aioredis.Redis:
        """Made on first use, inside the event loop that will use it. No retries inside the
        client: a lost connection surfaces at once, to the subscriber's loop or the publish."""
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self.url,
                health_check_interval=30,
                socket_keepalive=True,
                retry=Retry(NoBackoff(), 0),
            )
        return self._client

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._listener = asyncio.create_task(self._listen(), name="flint-stream-subscriber")

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        delay = RESUBSCRIBE_FIRST
        lost_at: float | None = None
        while True:
            pubsub = self._redis().pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    # A timeout, not listen(): each return lets the health check ping Redis.
                    message = await pubsub.get_message(timeout=30)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._subscribed, delay = True, RESUBSCRIBE_FIRST
                        if lost_at is not None:
                            down = round(loop.time() - lost_at, 2)
                            log.info("stream_subscriber_restored", seconds=down)
                            lost_at = None
                    elif message["type"] == "message":
                        await self._receive(message["data"])
            except (redis.RedisError, OSError) as exc:
                if lost_at is None:
                    lost_at = loop.time()
                    log.warning("stream_subscriber_lost", error=str(exc), retry_in=delay)
                else:
                    log.debug("stream_subscriber_retry_failed", error=str(exc), retry_in=delay)
            except Exception:
                lost_at = lost_at or loop.time()
                log.exception("stream_subscriber_failed", retry_in=delay)
            finally:
                self._subscribed = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESUBSCRIBE_MAX)

    async def _receive(self, data: bytes | str) -> None:
        if self._deliver is not None:
            await self._deliver(
                data.decode("utf-8", "replace") if isinstance(data, bytes) else data
            )

    async def publish(self, messages: Sequence[str]) -> None:
        if not messages:
            return
        try:
            await self._send(messages)
        except (redis.RedisError, OSError):
            # Redis restarted: the pooled connections are dead; try once on a fresh one.
            with contextlib.suppress(Exception):
                await self._redis().connection_pool.disconnect(inuse_connections=False)
            try:
                await self._send(messages)
            except (redis.RedisError, OSError) as exc:
                log.warning("stream_publish_failed", error=str(exc), messages=len(messages))
                await self._deliver_here(messages)
                return
        if not self._subscribed:
            await self._deliver_here(messages)

    async def _send(self, messages: Sequence[str]) -> None:
        async with self._redis().pipeline(transaction=False) as pipe:
            for message in messages:
                pipe.publish(self.channel, message)
            await pipe.execute()

    async def _deliver_here(self, messages: Sequence[str]) -> None:
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
        self._subscribed = False
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
