"""The outermost layer inside the request id: one access-log line per request, the request
metrics, and the headers every answer carries. One layer rather than four (access log, metrics,
security headers, the docs pages' policy): each layer costs every request a call and a wrapped
`send`, and these four all look at the same start of the answer."""

from __future__ import annotations

import logging
import time

import structlog
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


class Edge:
    """For every HTTP request:

    * the access line (`flint.access`, INFO: method, path, status, duration);
    * the request metrics (`RequestCounts`: count, duration and in-flight by route template);
    * headers every answer carries: no MIME sniffing, no referrer, no framing, a content
      security policy (the docs pages' own, else `frame-ancestors 'none'` unless the answer
      set one), and HSTS when the request came over TLS (``scheme`` is https directly, or by
      `X-Forwarded-Proto` from a proxy in ``FLINT_FORWARDED_ALLOW_IPS``, which uvicorn applies
      before the app). A header the answer already has is left as it is.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counts = RequestCounts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
