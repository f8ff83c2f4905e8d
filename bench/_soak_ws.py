"""The soak's WebSocket subscribers: ``CLIENTS`` quote-stream connections spread over the API
processes, in a process of their own (asyncio, low load), each subscribed to ``SYMBOLS`` for the
whole soak. They count the quotes they receive, the quotes that went back in time for their
symbol (the stream promises never one older than the last), error messages, and every
connection that closed before the bench closed it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

CLIENTS = int(os.environ.get("FLINT_BENCH_SOAK_WS_CLIENTS", "50"))
SYMBOLS = ("BTC-USD", "ETH-USD", "AAPL")
"""Crypto moves around the clock (a new simulated price every 5 s); AAPL only in NYSE hours."""
WS_PATH = "/api/v1/market/ws"


@dataclass
class Client:
    quotes: int = 0
    snapshots: int = 0
    backwards: int = 0
    errors: list[str] = field(default_factory=list)
    closed: str | None = None
    """Why the connection ended before the bench closed it (None: it did not)."""


@dataclass
class Subscribers:
    """What the subscribers saw, from connecting to the bench closing them."""

    clients: list[Client]

    @property
    def disconnects(self) -> int:
        return sum(c.closed is not None for c in self.clients)

    @property
    def silent(self) -> int:
        """Connections that got no quote beyond their subscriptions' snapshots."""
        return sum(c.quotes == 0 for c in self.clients)

    @property
    def failures(self) -> int:
        backwards = sum(c.backwards for c in self.clients)
        errors = sum(len(c.errors) for c in self.clients)
        return self.disconnects + self.silent + backwards + errors

    def as_json(self) -> dict[str, Any]:
        quotes = [c.quotes for c in self.clients]
        return {
            "clients": len(self.clients),
            "symbols": list(SYMBOLS),
            "quotes_received": sum(quotes),
            "quotes_per_client_min": min(quotes, default=0),
            "quotes_per_client_max": max(quotes, default=0),
            "disconnects": self.disconnects,
            "silent_clients": self.silent,
            "quotes_back_in_time": sum(c.backwards for c in self.clients),
            "error_messages": sum(len(c.errors) for c in self.clients),
            "closes": sorted({c.closed for c in self.clients if c.closed is not None}),
            "first_errors": [e for c in self.clients for e in c.errors][:5],
        }


@contextlib.contextmanager
def subscribed(
    apis: list[str], tokens: list[str], clients: int = CLIENTS
) -> Iterator[list[Subscribers]]:
    """``clients`` subscribers connected (alternating over ``apis``, base URLs) while the block
    runs; the yielded list receives one :class:`Subscribers` when the block ends."""
    urls = [
        f"{api.replace('http://', 'ws://', 1)}{WS_PATH}?token={tokens[i % len(tokens)]}"
        for i, api in ((i, apis[i % len(apis)]) for i in range(clients))
    ]
    context = multiprocessing.get_context("spawn")
    ready, done = context.Event(), context.Event()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_main, args=(urls, ready, done, send), daemon=True)
    process.start()
    report: list[Subscribers] = []
    try:
        if not ready.wait(120):
            raise RuntimeError("the WebSocket subscribers did not connect within 120 s")
        if receive.poll():  # connecting failed: the process sent its error instead
            raise RuntimeError(f"the WebSocket subscribers failed: {receive.recv()}")
        yield report
        done.set()
        outcome = receive.recv() if receive.poll(60) else "no report within 60 s"
        if isinstance(outcome, str):
            raise RuntimeError(f"the WebSocket subscribers failed: {outcome}")
        report.append(Subscribers([Client(**c) for c in outcome]))
    finally:
        done.set()
        process.join(30)
        if process.is_alive():
            process.kill()


def _main(urls: list[str], ready: Any, done: Any, send: Any) -> None:
    from bench._common import run_async

    try:
        clients = run_async(_swarm(urls, ready, done))
    except Exception as exc:
        send.send(f"{type(exc).__name__}: {exc}")
        ready.set()
        return
    send.send([vars(c) for c in clients])


async def _swarm(urls: list[str], ready: Any, done: Any) -> list[Client]:
    from websockets.asyncio.client import connect

    clients = [Client() for _ in urls]
    closing = asyncio.Event()
    sockets = []
    for url in urls:
        ws = await connect(url, compression=None, proxy=None, open_timeout=60)
        first = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if first.get("type") != "ready":
            raise RuntimeError(f"the stream answered {first} instead of ready")
        await ws.send(json.dumps({"action": "subscribe", "symbols": list(SYMBOLS)}))
        sockets.append(ws)
    readers = [
        asyncio.create_task(_read(ws, client, closing))
        for ws, client in zip(sockets, clients, strict=True)
    ]
    ready.set()
    await asyncio.to_thread(done.wait)
    closing.set()
    for ws in sockets:
        await ws.close()
    await asyncio.gather(*readers)
    return clients


async def _read(ws: Any, client: Client, closing: asyncio.Event) -> None:
    from websockets.exceptions import ConnectionClosed

    latest: dict[str, datetime] = {}
    subscribed = False
    try:
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "subscriptions":
                subscribed = True
            elif kind == "quote":
                symbol = message["symbol"]
                stamp = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00"))
                if symbol in latest and stamp < latest[symbol]:
                    client.backwards += 1
                latest[symbol] = max(stamp, latest.get(symbol, stamp))
                if subscribed:
                    client.quotes += 1
                else:
                    client.snapshots += 1
            elif kind == "error":
                client.errors.append(str(message.get("detail")))
    except ConnectionClosed as exc:
        if not closing.is_set():
            client.closed = f"{exc.rcvd.code if exc.rcvd else 'no close frame'}"
        return
    if not closing.is_set():
        client.closed = f"{ws.close_code}"
