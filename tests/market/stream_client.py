"""Serving the app on a real socket in the test's event loop, and a WebSocket client for it.

The hub lives in the same loop as the test, so a test can publish through it directly while
clients speak to it over TCP as browsers would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from flint.app.main import create_app
from flint.config import Settings
from flint.market.stream import QuoteHub

WS_PATH = "/api/v1/market/ws"


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Leave SIGINT and SIGTERM to pytest."""
        yield


@dataclass
class Served:
    app: FastAPI
    port: int
    http: httpx.AsyncClient

    @property
    def hub(self) -> QuoteHub:
        hub: QuoteHub = self.app.state.runtime.get(QuoteHub)
        return hub

    def url(self, token: str | None = None, path: str = WS_PATH) -> str:
        query = f"?token={token}" if token is not None else ""
        return f"ws://127.0.0.1:{self.port}{path}{query}"


@contextlib.asynccontextmanager
async def serving(settings: Settings, send_buffer: int | None = None) -> AsyncIterator[Served]:
    """The app with its lifespan on a free port of 127.0.0.1 until the block ends.
    ``send_buffer`` fixes the kernel's send buffer of every connection (accepted sockets inherit
    it), so a client that stops reading backs up to the app after kilobytes, not megabytes."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped while starting")
        await asyncio.sleep(0.01)
    try:
        # Generous timeouts: on a 2-core CI machine the system tests' processes share the cores.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield Served(app, port, http)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
        sock.close()


def open_socket(url: str, **options: Any) -> connect:
    """A client connection; no compression and no proxy, so bytes on the wire are ours."""
    return connect(url, compression=None, proxy=None, open_timeout=30, **options)


async def receive(ws: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    """The next message that is not an application ping."""
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
        if message["type"] != "ping":
            return message


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


async def exchange(
    ws: ClientConnection, message: dict[str, Any], *, within: float = 5.0
) -> list[dict[str, Any]]:
    """Send a (un)subscribe and return what came back, up to and with its `subscriptions`
    (each reply within ``within`` seconds)."""
    await send(ws, message)
    replies = [await receive(ws, within)]
    while replies[-1]["type"] != "subscriptions":
        replies.append(await receive(ws, within))
    return replies


@contextlib.asynccontextmanager
async def stream(served: Served, token: str, **options: Any) -> AsyncIterator[ClientConnection]:
    """An authenticated connection (token in the URL) that has been told it is ready."""
    async with open_socket(served.url(token), **options) as ws:
        ready = await receive(ws)
        assert ready["type"] == "ready", ready
        yield ws
