"""ASGI middleware: request-body size limit, one access-log line per request, the 500 for an
unexpected exception, bodiless 204s, the docs pages' content security policy, the security
headers of every answer and the trusted hosts."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import structlog
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flint.app.problems import problem_response, unexpected_problem

log = structlog.get_logger("flint.access")


class _TooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit.

    An HTTPException so FastAPI's body parsing re-raises it as it is (it turns any other
    exception into a 400 "error parsing the body") and the app's handler answers 413.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request bodies are limited to {max_bytes} bytes.")


class BodySizeLimit:
    """Refuse bodies over `max_bytes` with 413, by Content-Length or while streaming.
    ``overrides`` gives some paths (full-match patterns) a limit of their own (uploads)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        overrides: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.overrides = list(overrides)

    def limit_for(self, path: str) -> int:
        for pattern, limit in self.overrides:
            if pattern.fullmatch(path):
                return limit
        return self.default_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, receive, send, max_bytes)
            return
        seen = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _TooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if response_started:
                raise
            await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            Request(scope),
            status=413,
            title="Payload too large",
            slug="payload-too-large",
            detail=f"Request bodies are limited to {max_bytes} bytes.",
        )
        await response(scope, receive, send)


class UnexpectedErrors:
    """Answers an exception no handler took with the 500 problem, and lets the request end there.

    Starlette's ServerErrorMiddleware also answers 500 but then re-raises, and uvicorn closes a
    connection whose app raised, without `Connection: close`: a keep-alive client's next request
    on it was reset. Here the exception ends with the response, the connection stays usable, and
    the middleware outside (request id, access log) see the 500.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except HTTPException:
            raise  # the body-size limit's signal, answered outside
        except Exception:
            if response_started:
                raise  # half a response: only closing the connection can end it
            await unexpected_problem(Request(scope))(scope, receive, send)


BODILESS = frozenset({204, 304})


class NoContent:
    """A 204 or 304 goes out with no body and no `Content-Type` (RFC 9110 §15.3.5, §15.4.5).

    FastAPI answers a route declared 204 through the default response class, which names
    `application/json` for a body it never sends; removing it here covers every such route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bodiless = False

        async def strip(message: Message) -> None:
            nonlocal bodiless
            if message["type"] == "http.response.start" and message["status"] in BODILESS:
                bodiless = True
                headers = MutableHeaders(scope=message)
                for name in ("content-type", "content-length"):
                    del headers[name]
            elif message["type"] == "http.response.body" and bodiless:
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, strip)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )


DOCS_PAGES = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/api/docs", "/api/redoc"})
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


class DocsContentSecurityPolicy:
    """The docs pages load nothing from another origin, so they work offline and leak nothing.

    Their assets are served from /static/docs, but ReDoc's bundle still asks cdn.redoc.ly for
    its attribution logo; this policy makes the browser refuse that (the logo then hides).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = scope.get("root_path", "")
        if scope["type"] != "http" or scope["path"].removeprefix(root) not in DOCS_PAGES:
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Content-Security-Policy"] = DOCS_CSP
            await send(message)

        await self.app(scope, receive, send_with_policy)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
FRAME_ANCESTORS = b"frame-ancestors 'none'"
"""The policy of answers that set none (the docs pages set theirs): no page may frame ours.
Nothing else is restricted, so the small HTML pages (password reset) keep their inline code."""
HSTS = (b"strict-transport-security", b"max-age=31536000")
"""A year, this host only: subdomains may be other services the owner does not run on TLS."""


class SecurityHeaders:
    """Headers every answer carries: no MIME sniffing, no referrer, no framing, and HSTS when
    the request came over TLS (``scheme`` is https directly, or by `X-Forwarded-Proto` from a
    proxy in ``FLINT_FORWARDED_ALLOW_IPS``, which uvicorn applies before the app)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*SECURITY_HEADERS, HSTS] if scope.get("scheme") == "https" else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                names = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in names)
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", FRAME_ANCESTORS))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TrustedHosts:
    """Starlette's host check (``allowed_hosts``, `*.example.com` patterns), with a refused
    host answered by a problem like every other bad request rather than its plain text."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.check = TrustedHostMiddleware(self._allowed, allowed_hosts, www_redirect=False)

    async def _allowed(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["flint.host_allowed"] = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.check.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return

        async def discard(message: Message) -> None:  # the check's own plain-text refusal
            return None

        await self.check(scope, receive, discard)
        if scope.pop("flint.host_allowed", False):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            response = problem_response(
                Request(scope),
                status=400,
                title="Bad request",
                slug="bad-request",
                detail="This server does not answer for that host (the Host header).",
            )
            await response(scope, receive, send)
