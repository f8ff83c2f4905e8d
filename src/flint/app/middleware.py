"""ASGI middleware: request-body size limit, the 500 for an unexpected exception and bodiless
204s (`Answers`), and the trusted hosts. The outermost layer (request id, access log, metrics,
security headers) is `flint.app.edge`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flint.app.problems import problem_response, unexpected_problem


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
        declared: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is None and not chunked:  # no body: nothing to count (most GETs)
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope["path"])
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


BODILESS = frozenset({204, 304})


class Answers:
    """The innermost layer, on the answer as the app gives it:

    * An exception no handler took is answered with the 500 problem, and the request ends
      there. Starlette's ServerErrorMiddleware also answers 500 but then re-raises, and uvicorn
      closes a connection whose app raised, without `Connection: close`: a keep-alive client's
      next request on it was reset. Here the exception ends with the response, the connection
      stays usable, and the layers outside (request id, access log) see the 500.
    * A 204 or 304 goes out with no body and no `Content-Type` (RFC 9110 §15.3.5, §15.4.5).
      FastAPI answers a route declared 204 through the default response class, which names
      `application/json` for a body it never sends; removing it here covers every such route.

    One layer for both: each layer costs every request a call and a wrapped `send`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False
        bodiless = False

        async def answer(message: Message) -> None:
            nonlocal response_started, bodiless
            if message["type"] == "http.response.start":
                response_started = True
                if message["status"] in BODILESS:
                    bodiless = True
                    headers = MutableHeaders(scope=message)
                    for name in ("content-type", "content-length"):
                        del headers[name]
            elif bodiless and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, answer)
        except HTTPException:
            raise  # the body-size limit's signal, answered outside
        except Exception as error:
            if response_started:
                raise  # half a response: only closing the connection can end it
            await unexpected_problem(Request(scope), error)(scope, receive, answer)


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
