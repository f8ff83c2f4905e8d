"""Run an ASGI stub on 127.0.0.1 in a background thread, and steer it from a test.

Adapters are tested over a real socket (timeouts, connection errors and retries only exist
there), never against the internet. Every stub keeps a :class:`StubControl`: the scenario to
serve next and a log of the requests it received. A stub can be served over TLS, optionally
requiring a client certificate (mutual TLS, as Teller does): pass a :class:`ServerTLS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

SUCCESS = "success"

HOLD = math.inf
"""A ``delay`` that lasts until the test lets the answer go (:meth:`StubControl.release`, which
``reset`` and the end of the stub also do): a client's read timeout then happens for sure,
however busy the machine, and no test races a stub's sleep against a client's timeout."""


@dataclass
class Seen:
    """One request as the stub saw it."""

    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class StubControl:
    """What the stub serves next, and what it has seen. Tests set it directly, or through
    ``POST /_scenario {"name": ..., "times": n}``; ``times`` limits how many requests get the
    scenario before the stub answers normally again."""

    scenario: str = SUCCESS
    times: int | None = None
    delay: float = 2.0
    """How long a slow scenario waits before answering, in seconds; :data:`HOLD`: until
    released."""
    requests: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _held: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = field(
        default_factory=list, repr=False
    )
    _waiting: int = field(default=0, repr=False)

    def set(self, scenario: str, times: int | None = None, delay: float | None = None) -> None:
        with self._lock:
            self.scenario, self.times = scenario, times
            if delay is not None:
                self.delay = delay

    def reset(self) -> None:
        with self._lock:
            self.scenario, self.times, self.delay = SUCCESS, None, 2.0
            self.requests.clear()
        self.release()

    async def pause(self) -> None:
        """What a slow scenario does before answering: sleep ``delay`` seconds or, with
        :data:`HOLD`, wait until the test calls :meth:`release` (however long the client
        waits, or whether it is still there)."""
        if self.delay != HOLD:
            await asyncio.sleep(self.delay)
            return
        released = asyncio.Event()
        with self._lock:
            self._held.append((asyncio.get_running_loop(), released))
            self._waiting += 1
        try:
            await released.wait()
        finally:
            with self._lock:
                self._waiting -= 1

    @property
    def held(self) -> int:
        """Answers being held back (see :data:`HOLD`) right now."""
        with self._lock:
            return self._waiting

    def release(self, within: float = 5.0) -> None:
        """Let every answer held so far go, and wait (up to ``within`` seconds) until their
        handlers have moved on; answers held from now on wait for the next release. Call it
        from the test's thread, never from the stub's."""
        with self._lock:
            held, self._held = self._held, []
        for loop, released in held:
            with contextlib.suppress(RuntimeError):  # the stub's loop is gone: nothing waits
                loop.call_soon_threadsafe(released.set)
        deadline = time.monotonic() + within
        while self.held and time.monotonic() < deadline:
            time.sleep(0.005)

    def record(self, request: Request) -> str:
        """Log ``request`` and return the scenario it gets."""
        with self._lock:
            self.requests.append(
                Seen(request.url.path, dict(request.query_params), dict(request.headers))
            )
            if self.times is not None:
                if self.times <= 0:
                    return SUCCESS
                self.times -= 1
            return self.scenario

    def count(self, **params: str) -> int:
        """Requests received so far, optionally only those with the given query parameters."""
        with self._lock:
            return sum(
                all(seen.params.get(k) == v for k, v in params.items()) for seen in self.requests
            )


def control_routes(control: StubControl) -> list[Route]:
    """``POST /_scenario`` and ``GET /_requests``, for steering a stub from outside."""

    async def set_scenario(request: Request) -> JSONResponse:
        body = await request.json()
        control.set(str(body.get("name", SUCCESS)), body.get("times"), body.get("delay"))
        return JSONResponse({"scenario": control.scenario, "times": control.times})

    async def seen(_: Request) -> JSONResponse:
        return JSONResponse([{"path": s.path, "params": s.params} for s in control.requests])

    return [
        Route("/_scenario", set_scenario, methods=["POST"]),
        Route("/_requests", seen, methods=["GET"]),
    ]


def stub_app(routes: list[Route], control: StubControl) -> Starlette:
    app = Starlette(routes=[*control_routes(control), *routes])
    app.state.control = control
    return app


@dataclass(frozen=True)
class ServerTLS:
    """Serve over TLS with this certificate and key (PEM files, e.g. from
    :func:`tests.stubs.tls.make_certificates`). With ``client_ca`` the server checks client
    certificates against that CA: one the CA did not sign fails the TLS handshake and the app
    never sees its request. A client without a certificate fails the handshake too, unless
    ``client_cert_optional``: then the handshake succeeds and the app reads what the client
    presented from the ASGI TLS extension, ``scope["extensions"]["tls"]["client_cert_chain"]``
    (empty without a certificate), and answers as the vendor does (Teller: HTTP 400)."""

    certfile: Path
    keyfile: Path
    client_ca: Path | None = None
    client_cert_optional: bool = False


class _PeerCertProtocol(H11Protocol):
    """uvicorn's h11 protocol, adding the ASGI TLS extension's client certificate chain to
    every request's scope (uvicorn itself does not)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
        app = self.app

        async def with_tls(scope: Scope, receive: Receive, send: Send) -> None:
            scope["extensions"] = {
                **scope.get("extensions", {}),
                "tls": {"client_cert_chain": chain},
            }
            await app(scope, receive, send)

        self.app = with_tls


def _cert_reqs(tls: ServerTLS | None) -> ssl.VerifyMode:
    if tls is None or tls.client_ca is None:
        return ssl.CERT_NONE
    return ssl.CERT_OPTIONAL if tls.client_cert_optional else ssl.CERT_REQUIRED


@contextmanager
def serve(
    app: ASGIApp,
    lifespan: Literal["on", "off", "auto"] = "off",
    *,
    start_within: float = 10,
    tls: ServerTLS | None = None,
) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 until the block ends; yields its base URL
    (``https://`` with ``tls``). Raises RuntimeError when the server does not start within
    ``start_within`` seconds or does not stop within 10 s of the block's end."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    client_ca = tls.client_ca if tls else None
    config = uvicorn.Config(
        app,
        lifespan=lifespan,
        log_config=None,  # leave the test process's logging alone
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        ssl_certfile=tls.certfile if tls else None,
        ssl_keyfile=tls.keyfile if tls else None,
        ssl_ca_certs=client_ca,
        ssl_cert_reqs=_cert_reqs(tls),
        http=_PeerCertProtocol if tls and tls.client_cert_optional else "auto",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_within
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server did not start within {start_within:g} s")
        time.sleep(0.01)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the server did not stop within 10 s")


@dataclass(frozen=True)
class RunningStub:
    """A stub being served: where it is, and its control."""

    url: str
    control: StubControl


@contextmanager
def run_stub(app: Starlette, *, tls: ServerTLS | None = None) -> Iterator[RunningStub]:
    """:func:`serve` for an app built by :func:`stub_app` (over TLS with ``tls``)."""
    control: StubControl = app.state.control
    with serve(app, tls=tls) as url:
        try:
            yield RunningStub(url, control)
        finally:
            control.release()  # before the server stops: it would wait for held answers


def closed_port() -> str:
    """A base URL on 127.0.0.1 where nothing listens, for connection-refused tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
