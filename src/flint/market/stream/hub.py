"""The hub of one API process: its clients' connections, the poller that reads their symbols'
quotes, and the fan-out of every quote the broadcast delivers to the clients that want it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocket

from flint import metrics
from flint.db import commit
from flint.errors import FlintError
from flint.market.providers.types import Quote
from flint.market.service import MarketData
from flint.market.stream.broadcast import Broadcast
from flint.market.stream.client import CLOSE_UNAUTHORIZED, Client
from flint.market.stream.messages import (
    FAILED,
    PING,
    Delivery,
    error_message,
    quote_message,
    ready_message,
)
from flint.market.stream.subscriptions import Subscriptions

log = structlog.get_logger(__package__)  # one logger name for the whole stream

CLOSE_RESTARTING = 1012
CLOSE_TIMEOUT = 5.0
"""A client that stopped reading may not take the close frame either: wait a little, not
forever."""


class QuoteHub:
    """This process's clients, the poller that feeds their subscriptions, and the fan-out."""

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
        signed_in: Callable[[Any], Awaitable[bool]] | None = None,
        session_check_seconds: float = 0.0,
    ) -> None:
        self.market = market
        self.sessionmaker = sessionmaker
        self.broadcast = broadcast
        self.poll_seconds = poll_seconds
        self.queue_size = queue_size
        self.ping_seconds = ping_seconds
        self.auth_timeout = auth_timeout
        """Seconds a client has to send `{"action": "auth"}` when the URL carries no token."""
        self.on_quotes = on_quotes
        """Called with the quotes each poll found changed (price alerts are checked there)."""
        self.signed_in = signed_in
        """Whether a connection's sign-in (what `serve` was given) is still alive; asked every
        ``session_check_seconds`` through the shared cache and the database, so a sign-out in
        any process closes the connection (4401) in this one."""
        self.session_check_seconds = session_check_seconds
        self._clients: set[Client] = set()
        self._subscriptions = Subscriptions(sessionmaker, self._read, max_symbols=max_symbols)
        self._published: dict[str, tuple[datetime, Decimal]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    @property
    def running(self) -> bool:
        return self._running

    @property
    def max_symbols(self) -> int:
        return self._subscriptions.max_symbols

    @property
    def clients(self) -> int:
        return len(self._clients)

    def symbols(self) -> set[str]:
        """Every symbol a client of this process subscribes to."""
        return set(self._subscriptions.by_symbol)

    def subscribers(self, symbol: str) -> int:
        return len(self._subscriptions.by_symbol.get(symbol, ()))

    def backlog(self) -> int:
        """Messages waiting in this process's clients' queues."""
        return sum(len(client.queue) for client in self._clients)

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
        if self.signed_in is not None and self.session_check_seconds > 0:
            task = asyncio.create_task(self._session_loop(), name="flint-stream-sessions")
            self._tasks.append(task)

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

    async def _deliver(self, text: str) -> None:
        """Send the quote to every subscriber it is news to: written to the connection of each
        client that keeps up, in this loop, queued for a client still busy with earlier ones
        (see `Client`). So when this returns the quote has been handed over, and a burst
        reaches every client in publish order, one quote after the other, instead of filling
        every queue first and draining one client after the other. Nobody waits for a slow
        client. Then yield once, so a long burst lets the rest of the process run."""
        delivery = Delivery.decode(text)
        if delivery is None:
            log.warning("stream_message_ignored", message=text[:200])
            return
        subscribers = self._subscriptions.by_symbol.get(delivery.symbol)
        if not subscribers:
            return
        dropped = [
            client
            for client in subscribers
            if client.take(delivery) and not client.push(delivery.text)
        ]
        for client in dropped:
            self._forget(client)
        await asyncio.sleep(0)

    # --- producer -----------------------------------------------------------------------------
    async def poll_once(self) -> int:
        """Read every subscribed symbol's quote and publish those that changed since this
        process last published them; returns how many were published."""
        subscribed = self._subscriptions.by_symbol
        for gone in self._published.keys() - subscribed.keys():
            del self._published[gone]
        if not subscribed:
            return 0
        changed: list[Quote] = []
        async with self.sessionmaker() as session:
            for symbol in sorted(subscribed):
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

    async def check_sessions(self) -> int:
        """Close (4401) every connection whose sign-in has ended; how many were closed. Each
        distinct sign-in is asked once; when asking fails the connections stay open."""
        if self.signed_in is None:
            return 0
        alive: dict[Hashable, bool] = {}
        closed = 0
        for client in list(self._clients):
            if client.session is None:
                continue
            if client.session not in alive:
                try:
                    alive[client.session] = await self.signed_in(client.session)
                except Exception:
                    log.exception("stream_session_check_failed")
                    alive[client.session] = True
            if not alive[client.session]:
                client.drop(CLOSE_UNAUTHORIZED, "the sign-in has ended")
                closed += 1
        return closed

    async def _session_loop(self) -> None:
        while True:
            await asyncio.sleep(self.session_check_seconds)
            try:
                await self.check_sessions()
            except Exception:
                log.exception("stream_session_check_crashed")

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_seconds)
            for client in list(self._clients):
                if not client.push(PING):
                    self._forget(client)

    # --- connections --------------------------------------------------------------------------
    async def serve(self, websocket: WebSocket, session: Hashable = None) -> None:
        """Run an accepted, authenticated connection until either side ends it, or until its
        ``session`` (the caller's sign-in, for `signed_in`) ends."""
        await self.start()
        client = Client(self.queue_size, session)
        self._clients.add(client)
        metrics.WS_CONNECTIONS.inc()
        client.attach(websocket.send_text)
        client.push(ready_message(self.max_symbols, self.ping_seconds))
        tasks = [
            asyncio.create_task(self._receive(websocket, client)),
            asyncio.create_task(client.closed.wait()),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            metrics.WS_CONNECTIONS.dec()
            client.detach()
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
        self._subscriptions.forget(client)

    async def _receive(self, websocket: WebSocket, client: Client) -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            try:
                await self._subscriptions.handle(client, text)
            except Exception:
                log.exception("stream_message_failed", message=text[:200])
                await client.reply(error_message(FAILED))
