"""Who follows what: the index of this process's clients by symbol, and the messages a client
sends to change its own subscriptions (validated, capped, answered with a snapshot)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.errors import FlintError, NotFound
from flint.kit.symbols import normalize_symbol
from flint.market.providers.types import Quote
from flint.market.stream.client import Client
from flint.market.stream.messages import (
    MALFORMED,
    PONG,
    UNREADABLE,
    Delivery,
    error_message,
    subscriptions_message,
)

log = structlog.get_logger(__package__)  # one logger name for the whole stream

Read = Callable[[AsyncSession, str], Awaitable[Quote]]


class Subscriptions:
    """The symbols each client of this process subscribes to, and the client messages that
    change them. The hub reads ``by_symbol`` to fan quotes out and to know what to poll."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        read: Read,
        *,
        max_symbols: int,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.read = read
        self.max_symbols = max_symbols
        self.by_symbol: dict[str, set[Client]] = {}

    def forget(self, client: Client) -> None:
        for symbol in client.symbols:
            self._unindex(client, symbol)

    def _unindex(self, client: Client, symbol: str) -> None:
        subscribers = self.by_symbol.get(symbol)
        if subscribers is not None:
            subscribers.discard(client)
            if not subscribers:
                del self.by_symbol[symbol]

    async def handle(self, client: Client, text: str) -> None:
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
        await client.reply(subscriptions_message(client.symbols))

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
            self.by_symbol.setdefault(symbol, set()).add(client)
        async with self.sessionmaker() as session:
            for symbol in new:
                await self._snapshot(session, client, symbol)

    async def _snapshot(self, session: AsyncSession, client: Client, symbol: str) -> None:
        try:
            quote = await self.read(session, symbol)
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
