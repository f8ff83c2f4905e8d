"""Live quotes over WebSocket: one hub per API process, fanned out through a broadcast.

Each API process polls the quotes its own clients subscribe to (through the quote cache, so many
processes cost one vendor call per symbol and cache period) and publishes the changed ones. The
broadcast is Redis pub/sub when `FLINT_REDIS_URL` is set, so a quote polled by one process
reaches the clients of all of them, and a direct call in-process otherwise. A Celery task
publishes with :func:`publish_to_redis`.

Every client has a bounded queue. The hub never waits for a client: a client whose queue is full
when a quote arrives is disconnected (1013) rather than slowing the others down. Replies to a
client's own messages wait for room instead, so a large subscribe never drops its sender. Several
processes may publish the same quote, so each client is sent a quote only when it is newer than
the last one it got for that symbol (same timestamp and price: a duplicate; older: out of date).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import redis
import redis.asyncio as aioredis
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocket

from flint.config import Settings
from flint.db import commit
from flint.errors import FlintError, NotFound
from flint.kit.symbols import normalize_symbol
from flint.market.providers.types import Quote
from flint.market.service import MarketData

log = structlog.get_logger(__name__)

DEFAULT_CHANNEL = "flint:quotes"
CLOSE_TOO_SLOW = 1013
"""Try again later: the client did not read its messages fast enough."""
CLOSE_RESTARTING = 1012
CLOSE_TIMEOUT = 5.0
"""A client that stopped reading may not take the close frame either: wait a little, not
forever."""

Deliver = Callable[[str], None]


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


PING = _dumps({"type": "ping"})
PONG = _dumps({"type": "pong"})
FAILED = "The message could not be handled now; try again later."
UNREADABLE = "The quote could not be read now; it follows once it can be."
MALFORMED = 'Send JSON objects like {"action": "subscribe", "symbols": ["AAPL"]}.'


def _timestamp(at: datetime) -> str:
    """The same spelling the REST quote uses (pydantic's): ISO 8601 UTC with `Z`."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def quote_message(quote: Quote) -> str:
    """The quote as clients receive it (and as it travels on the channel): JSON numbers, like
    the REST quote, so both show the same values."""
    return _dumps(
        {
            "type": "quote",
            "symbol": quote.symbol,
            "price": float(quote.price),
            "change": float(quote.change),
            "changePercent": float(quote.change_percent),
            "volume": quote.volume,
            "timestamp": _timestamp(quote.timestamp),
        }
    )


def error_message(detail: str, symbol: str | None = None) -> str:
    message: dict[str, Any] = {"type": "error", "detail": detail}
    if symbol is not None:
        message["symbol"] = symbol
    return _dumps(message)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A quote message with what routing and deduplication need read out of it once."""

    symbol: str
    at: datetime
    price: float
    text: str

    @classmethod
    def of(cls, quote: Quote) -> Delivery:
        return cls(quote.symbol, quote.timestamp, float(quote.price), quote_message(quote))

    @classmethod
    def decode(cls, text: str) -> Delivery | None:
        """None for anything that is not a well-formed quote message (a shared channel may
        carry garbage; it must not reach clients)."""
        try:
            data = json.loads(text)
            if data.get("type") != "quote":
                return None
            at = datetime.fromisoformat(data["timestamp"])
            price = data["price"]
            if at.tzinfo is None or not isinstance(price, int | float):
                return None
            return cls(str(data["symbol"]), at, float(price), text)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


# --- broadcast backends ----------------------------------------------------------------------
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
                self._deliver(message)

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
                        self._receive(message["data"])
            except (redis.RedisError, OSError) as exc:
                log.warning("stream_subscriber_lost", error=str(exc), retry_in=delay)
            except Exception:
                log.exception("stream_subscriber_failed", retry_in=delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _receive(self, data: bytes | str) -> None:
        if self._deliver is not None:
            self._deliver(data.decode("utf-8", "replace") if isinstance(data, bytes) else data)

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
                    self._deliver(message)

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


# --- clients ---------------------------------------------------------------------------------
class Client:
    """One connection's side of the hub: its symbols, its queue, the last quote it was sent."""

    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.symbols: set[str] = set()
        self.sent: dict[str, tuple[datetime, float]] = {}
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""

    def take(self, delivery: Delivery) -> bool:
        """Whether ``delivery`` is news to this client; if so it counts as sent from now on."""
        if delivery.symbol not in self.symbols:
            return False
        last = self.sent.get(delivery.symbol)
        if last is not None and (delivery.at < last[0] or (delivery.at, delivery.price) == last):
            return False
        self.sent[delivery.symbol] = (delivery.at, delivery.price)
        return True

    def push(self, text: str) -> bool:
        """Queue without waiting; a full queue disconnects the client. False if it did."""
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.drop(CLOSE_TOO_SLOW, "too slow: the send queue is full")
            return False
        return True

    async def reply(self, text: str) -> None:
        """Answers to the client's own messages wait for room: it is the one being slow."""
        await self.queue.put(text)

    def drop(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.closed.set()


# --- the hub ---------------------------------------------------------------------------------
class QuoteHub:
    """Subscriptions of this process's clients, the poller that feeds them, and the fan-out."""

    def __init__(
        self,
        market: MarketData,
        sessionmaker: async_sessionmaker[AsyncSession],
        broadcast: Broadcast,
        *,
        poll_seconds: float,
        queue_size: int,
        max_symbols: int,
        ping_seconds: float,
        auth_timeout: float = 5.0,
        on_quotes: Callable[[Sequence[Quote]], Awaitable[None]] | None = None,
    ) -> None:
        self.market = market
        self.sessionmaker = sessionmaker
        self.broadcast = broadcast
        self.poll_seconds = poll_seconds
        self.queue_size = queue_size
        self.max_symbols = max_symbols
        self.ping_seconds = ping_seconds
        self.auth_timeout = auth_timeout
        """Seconds a client has to send `{"action": "auth"}` when the URL carries no token."""
        self.on_quotes = on_quotes
        """Called with the quotes each poll found changed (price alerts are checked there)."""
        self._clients: set[Client] = set()
        self._subscribers: dict[str, set[Client]] = {}
        self._published: dict[str, tuple[datetime, Decimal]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    @property
    def clients(self) -> int:
        return len(self._clients)

    def symbols(self) -> set[str]:
        """Every symbol a client of this process subscribes to."""
        return set(self._subscribers)

    def subscribers(self, symbol: str) -> int:
        return len(self._subscribers.get(symbol, ()))

    async def start(self) -> None:
        """Idempotent: the app's lifespan starts the hub, and so does the first connection
        (an app served without its lifespan still streams)."""
        if self._running:
            return
        self._running = True
        await self.broadcast.start(self._deliver)
        if self.poll_seconds > 0:
            self._tasks.append(asyncio.create_task(self._poll_loop(), name="flint-stream-poll"))
        if self.ping_seconds > 0:
            self._tasks.append(asyncio.create_task(self._ping_loop(), name="flint-stream-ping"))

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.broadcast.stop()
        for client in list(self._clients):
            client.drop(CLOSE_RESTARTING, "the server is stopping")

    async def publish_quotes(self, quotes: Iterable[Quote]) -> None:
        """Send quotes to the subscribers of every process (each process dedupes its own)."""
        await self.broadcast.publish([quote_message(quote) for quote in quotes])

    def _deliver(self, text: str) -> None:
        delivery = Delivery.decode(text)
        if delivery is None:
            log.warning("stream_message_ignored", message=text[:200])
            return
        for client in list(self._subscribers.get(delivery.symbol, ())):
            if client.take(delivery) and not client.push(delivery.text):
                self._forget(client)

    # --- producer -----------------------------------------------------------------------------
    async def poll_once(self) -> int:
        """Read every subscribed symbol's quote and publish those that changed since this
        process last published them; returns how many were published."""
        for gone in self._published.keys() - self._subscribers.keys():
            del self._published[gone]
        if not self._subscribers:
            return 0
        changed: list[Quote] = []
        async with self.sessionmaker() as session:
            for symbol in sorted(self._subscribers):
                try:
                    quote = await self._read(session, symbol)
                except FlintError as exc:
                    log.info("stream_poll_failed", symbol=symbol, detail=exc.detail)
                    continue
                except Exception:
                    log.exception("stream_poll_error", symbol=symbol)
                    continue
                key = (quote.timestamp, quote.price)
                if self._published.get(symbol) != key:
                    self._published[symbol] = key
                    changed.append(quote)
        if changed:
            await self.publish_quotes(changed)
            if self.on_quotes is not None:
                try:
                    await self.on_quotes(changed)
                except Exception:
                    log.exception("stream_quote_listener_failed", quotes=len(changed))
        return len(changed)

    async def _read(self, session: AsyncSession, symbol: str) -> Quote:
        """The current quote, committed at once: on SQLite a stored quote takes the write lock,
        which must not stay held while the next symbols are read."""
        try:
            view = await self.market.quote(session, symbol)
            await commit(session)
        except BaseException:
            with contextlib.suppress(Exception):
                await session.rollback()
            raise
        return view.quote

    async def _poll_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.poll_once()
            except Exception:
                log.exception("stream_poll_crashed")
            await asyncio.sleep(max(0.0, self.poll_seconds - (loop.time() - started)))

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_seconds)
            for client in list(self._clients):
                if not client.push(PING):
                    self._forget(client)

    # --- connections --------------------------------------------------------------------------
    async def serve(self, websocket: WebSocket) -> None:
        """Run an accepted, authenticated connection until either side ends it."""
        await self.start()
        client = Client(self.queue_size)
        self._clients.add(client)
        ready = {"type": "ready", "maxSymbols": self.max_symbols, "pingSeconds": self.ping_seconds}
        client.push(_dumps(ready))
        tasks = [
            asyncio.create_task(self._send(websocket, client)),
            asyncio.create_task(self._receive(websocket, client)),
            asyncio.create_task(client.closed.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._forget(client)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if client.close_code is not None:
            log.info("stream_client_dropped", code=client.close_code, reason=client.close_reason)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    websocket.close(client.close_code, client.close_reason), CLOSE_TIMEOUT
                )

    def _forget(self, client: Client) -> None:
        self._clients.discard(client)
        for symbol in client.symbols:
            self._unindex(client, symbol)

    def _unindex(self, client: Client, symbol: str) -> None:
        subscribers = self._subscribers.get(symbol)
        if subscribers is not None:
            subscribers.discard(client)
            if not subscribers:
                del self._subscribers[symbol]

    async def _send(self, websocket: WebSocket, client: Client) -> None:
        with contextlib.suppress(Exception):  # the connection is gone; serve() cleans up
            while True:
                await websocket.send_text(await client.queue.get())

    async def _receive(self, websocket: WebSocket, client: Client) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            try:
                await self._handle(client, text)
            except Exception:
                log.exception("stream_message_failed", message=text[:200])
                await client.reply(error_message(FAILED))

    async def _handle(self, client: Client, text: str) -> None:
        """One message from a client: subscribe, unsubscribe or ping."""
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            await client.reply(error_message(MALFORMED))
            return
        action = data.get("action")
        if action == "ping":
            await client.reply(PONG)
            return
        if action not in ("subscribe", "unsubscribe"):
            await client.reply(error_message(f"Unknown action {str(action)[:20]!r}. {MALFORMED}"))
            return
        names = data.get("symbols")
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            await client.reply(error_message("`symbols` must be a list of strings."))
            return
        if action == "subscribe":
            await self._subscribe(client, names)
        else:
            await self._unsubscribe(client, names)
        await client.reply(_dumps({"type": "subscriptions", "symbols": sorted(client.symbols)}))

    async def _valid(self, client: Client, names: list[str]) -> list[str]:
        """The names as symbols, each once, in order; an error for each invalid one."""
        symbols: list[str] = []
        for name in names:
            try:
                symbol = normalize_symbol(name)
            except ValueError as exc:
                await client.reply(error_message(str(exc).capitalize() + ".", name[:20]))
                continue
            if symbol not in symbols:
                symbols.append(symbol)
        return symbols

    async def _subscribe(self, client: Client, names: list[str]) -> None:
        """All or nothing against the cap, so a client never ends up with an arbitrary part of
        what it asked for; an unknown symbol is an error and left out."""
        limit = f"At most {self.max_symbols} symbols per connection"
        if len(names) > self.max_symbols:
            await client.reply(error_message(f"{limit}; this message names {len(names)}."))
            return
        new = [s for s in await self._valid(client, names) if s not in client.symbols]
        if len(client.symbols) + len(new) > self.max_symbols:
            held, asked = len(client.symbols), len(new)
            detail = f"{limit}: {held} subscribed, {asked} more asked; none added."
            await client.reply(error_message(detail))
            return
        # Subscribed before the snapshot is read, so no update between the two is lost.
        for symbol in new:
            client.symbols.add(symbol)
            self._subscribers.setdefault(symbol, set()).add(client)
        async with self.sessionmaker() as session:
            for symbol in new:
                await self._snapshot(session, client, symbol)

    async def _snapshot(self, session: AsyncSession, client: Client, symbol: str) -> None:
        try:
            quote = await self._read(session, symbol)
        except NotFound as exc:
            self._drop_symbol(client, symbol)
            await client.reply(error_message(exc.detail, symbol))
            return
        except FlintError as exc:
            # Providers down and nothing stored: stay subscribed, quotes follow on recovery.
            await client.reply(error_message(exc.detail, symbol))
            return
        except Exception:
            log.exception("stream_snapshot_error", symbol=symbol)
            await client.reply(error_message(UNREADABLE, symbol))
            return
        delivery = Delivery.of(quote)
        if client.take(delivery):
            await client.reply(delivery.text)

    async def _unsubscribe(self, client: Client, names: list[str]) -> None:
        for symbol in await self._valid(client, names):
            self._drop_symbol(client, symbol)

    def _drop_symbol(self, client: Client, symbol: str) -> None:
        client.symbols.discard(symbol)
        client.sent.pop(symbol, None)
        self._unindex(client, symbol)
