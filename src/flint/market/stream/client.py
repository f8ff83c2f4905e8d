"""A client as the hub sees it: a bounded queue the hub never waits on, and the close code for a
client that lets it fill."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from datetime import datetime

from flint import metrics
from flint.market.stream.messages import Delivery

CLOSE_TOO_SLOW = 1013
"""Try again later: the client did not read its messages fast enough."""
CLOSE_UNAUTHORIZED = 4401
"""No valid access token, or the sign-in it came from has ended."""


class Client:
    """One connection's side of the hub: its symbols, its queue, the last quote it was sent."""

    def __init__(self, queue_size: int, session: Hashable = None) -> None:
        self.session = session
        """What the hub asks about to know the client is still signed in (None: not asked)."""
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
            metrics.WS_SLOW_DROPS.inc()
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
