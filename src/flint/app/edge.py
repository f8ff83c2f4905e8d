"""The outermost layer of Flint's own: the request id, one access-log line per request, the
request metrics, and the headers every answer carries. One layer rather than five (request id,
access log, metrics, security headers, the docs pages' policy): each layer costs every request a
call and a wrapped `send`, and these all look at the same start of the answer."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

import structlog
from asgi_correlation_id import correlation_id
from asgi_correlation_id.extensions.sentry import get_sentry_extension
from starlette._utils import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flint.app.metrics import RequestCounts

log = structlog.get_logger("flint.access")
access = logging.getLogger("flint.access")
"""Asked before each access line: structlog builds and drops a filtered line only after its
bound logger, the event dict and the first processor (7 µs a request at warnings-only)."""

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
).encode()
"""The docs pages load nothing from another origin, so they work offline and leak nothing.
Their assets are served from /static/docs, but ReDoc's bundle still asks cdn.redoc.ly for its
attribution logo; this policy makes the browser refuse that (the logo then hides)."""

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
FRAME_ANCESTORS = b"frame-ancestors 'none'"
"""The policy of answers that set none (the docs pages get `DOCS_CSP`): no page may frame ours.
Nothing else is restricted, so the small HTML pages (password reset) keep their inline code."""
HSTS = (b"strict-transport-security", b"max-age=31536000")
"""A year, this host only: subdomains may be other services the owner does not run on TLS."""
CSP = b"content-security-policy"
REQUEST_ID = b"x-request-id"


def new_request_id() -> str:
    """32 random hex digits from the system's generator, as `uuid4().hex` but without building
    a UUID (a third of the cost, on every request), and as `secrets.token_hex` without its two
    calls around `os.urandom`."""
    return os.urandom(16).hex()


class Edge:
    """For every HTTP request:

    * the request id: the client's ``X-Request-ID`` when ``valid_request_id`` accepts it, else
      a new one (`new_request_id`), in asgi-correlation-id's `correlation_id` context (the logs,
      the problems' ``requestId``, the jobs sent, Sentry's tag when ``tag_sentry``) and in the
      answer's ``X-Request-ID``. WebSockets get an id too. This was asgi-correlation-id's own
      middleware, which cost every request as much as the rest of this layer: a
      ``MutableHeaders`` over the request and another over the answer, and a wrapped `send`;
    * the access line (`flint.access`, INFO: method, path, status, duration);
    * the request metrics (`RequestCounts`: count, duration and in-flight by route template);
    * headers every answer carries: no MIME sniffing, no referrer, no framing, a content
      security policy (the docs pages' own, else `frame-ancestors 'none'` unless the answer
      set one), and HSTS when the request came over TLS (``scheme`` is https directly, or by
      `X-Forwarded-Proto` from a proxy in ``FLINT_FORWARDED_ALLOW_IPS``, which uvicorn applies
      before the app). A header the answer already has is left as it is.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        valid_request_id: Callable[[str], bool],
        tag_sentry: bool = False,
    ) -> None:
        self.app = app
        self.counts = RequestCounts()
        self.valid_request_id = valid_request_id
        self.tag_sentry = get_sentry_extension() if tag_sentry else None

    def request_id(self, scope: Scope) -> bytes:
        """The request's id, set in the `correlation_id` context; as the header value."""
        given = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID:
                given = value.decode("latin-1")
                break
        if not given or not self.valid_request_id(given):
            if given:
                log.warning("request id refused, a new one generated", refused=given[:128])
            given = new_request_id()
        correlation_id.set(given)
        if self.tag_sentry is not None:
            self.tag_sentry(given)
        return given.encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                self.request_id(scope)
            await self.app(scope, receive, send)
            return
        request_id = self.request_id(scope)
        started = time.perf_counter()
        status = 500
        extra = [*SECURITY_HEADERS, HSTS] if scope.get("scheme") == "https" else SECURITY_HEADERS
        policy = DOCS_CSP if get_route_path(scope) in DOCS_PAGES else None

        async def edge_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                if policy is not None:
                    headers[:] = [(name, value) for name, value in headers if name.lower() != CSP]
                    headers.append((CSP, policy))
                names = {name.lower() for name, _ in headers}
                headers.extend(header for header in extra if header[0] not in names)
                if CSP not in names:
                    headers.append((CSP, FRAME_ANCESTORS))
                headers.append((REQUEST_ID, request_id))
            await send(message)

        self.counts.started()
        try:
            await self.app(scope, receive, edge_send)
        finally:
            elapsed = time.perf_counter() - started
            self.counts.finished(scope, status, elapsed)
            if access.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
