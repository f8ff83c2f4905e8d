"""A client as the hub sees it: its connection's send, written to directly while it keeps up, a
bounded queue for what it has not taken yet, and the close code for a client that lets it
fill."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine, Generator, Hashable
from datetime import datetime
from decimal import Decimal
from typing import Any

from flint import metrics
from flint.market.stream.messages import Delivery

CLOSE_TOO_SLOW = 1013
"""Try again later: the client did not read its messages fast enough."""
CLOSE_UNAUTHORIZED = 4401
"""No valid access token, or the sign-in it came from has ended."""

Send = Callable[[str], Coroutine[Any, Any, None]]


class _Resume:
    """Awaiting it finishes a coroutine that was started outside any task and suspended on
    ``waiting`` (what Python 3.12's eager task start does, by hand: the task that awaits this
    takes the coroutine over where it stopped, cancellation included)."""

    __slots__ = ("coroutine", "waiting")

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting: Any) -> None:
        self.coroutine = coroutine
        self.waiting = waiting

    def __await__(self) -> Generator[Any, None, None]:
        coroutine, waiting = self.coroutine, self.waiting
        while True:
            try:
                yield waiting
            except BaseException as exc:  # the task was cancelled while waiting
                try:
                    waiting = coroutine.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = coroutine.send(None)
                except StopIteration:
                    return


class Client:
    """One connection's side of the hub: its symbols, what it is sent, the last quote it got.

    While the connection takes what it is sent, a message is written at once, in the hub's
    own loop over the subscribers: no task wakes up per client and message. A write that has
    to wait (the connection's buffer is full) goes on in a task of its own, and the messages
    after it wait in the client's queue, in order, until that task has written them; a full
    queue disconnects the client. Until a connection is attached everything is queued."""

    def __init__(self, queue_size: int, session: Hashable = None) -> None:
        self.session = session
        """What the hub asks about to know the client is still signed in (None: not asked)."""
        self.queue_size = queue_size
        self.queue: collections.deque[str] = collections.deque()
        self.symbols: set[str] = set()
        self.sent: dict[str, tuple[datetime, Decimal]] = {}
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self._send: Send | None = None
        self._writer: asyncio.Task[None] | None = None
        self._room = asyncio.Event()

    def take(self, delivery: Delivery) -> bool:
        """Whether ``delivery`` is news to this client; if so it counts as sent from now on."""
        if delivery.symbol not in self.symbols:
            return False
        last = self.sent.get(delivery.symbol)
        if last is not None and (delivery.at < last[0] or (delivery.at, delivery.price) == last):
            return False
        self.sent[delivery.symbol] = (delivery.at, delivery.price)
        return True

    def attach(self, send: Send) -> None:
        """Start sending through ``send`` (what was queued first goes first)."""
        self._send = send
        if self.queue and self._writer is None:
            self._writer = asyncio.create_task(self._drain())

    def detach(self) -> None:
        """Stop sending: the connection is over."""
        self._send = None
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None

    def push(self, text: str) -> bool:
        """Send or queue without waiting; a full queue disconnects the client. False if it
        did."""
        if self._send is not None and self._writer is None:
            self._write(self._send, text)
            return True
        if len(self.queue) >= self.queue_size:
            metrics.WS_SLOW_DROPS.inc()
            self.drop(CLOSE_TOO_SLOW, "too slow: the send queue is full")
            return False
        self.queue.append(text)
        return True

    async def reply(self, text: str) -> None:
        """Answers to the client's own messages wait for room: it is the one being slow."""
        while len(self.queue) >= self.queue_size and not self.closed.is_set():
            self._room.clear()
            await self._room.wait()
        if not self.closed.is_set():
            self.push(text)

    def drop(self, code: int, reason: str) -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.closed.set()

    def _write(self, send: Send, text: str) -> None:
        """Run the send until it first has to wait; if it must, a task finishes it."""
        coroutine = send(text)
        try:
            waiting = coroutine.send(None)
        except StopIteration:
            return
        except Exception:
            self._gone()
            return
        self._writer = asyncio.create_task(self._drain(_Resume(coroutine, waiting)))

    async def _drain(self, first: _Resume | None = None) -> None:
        try:
            if first is not None:
                await first
            while self.queue and self._send is not None:
                text = self.queue.popleft()
                self._room.set()
                await self._send(text)
        except Exception:  # the connection is gone; serve() cleans up
            self._gone()
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    def _gone(self) -> None:
        """The connection failed: end it (no close code, there is no one to tell)."""
        self._send = None
        self.closed.set()
