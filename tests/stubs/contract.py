"""Check a stub against the vendor's own OpenAPI document while tests run (openapi-core).

Add :class:`ContractCheck` to a stub's app (``app.add_middleware(ContractCheck,
contract=...)``, see :func:`checked`): every request the stub receives (that is,
every request the adapter under test sends) is validated against the operation the vendor's
spec defines for it, and every response the stub gives against that operation's responses.
What does not conform is kept in :attr:`Contract.violations` (the stub still answers, so the
test sees what the adapter would see); a test, or a fixture at its end, calls
:meth:`Contract.assert_clean`.

Paths under ``/_`` are the stub's own control routes and are not checked. A handler that
deliberately answers outside the spec (an injected fault: an HTML page, a truncated body, a
429 or 401 the vendor gives without documenting it) marks the request with :func:`fault`; its
response is then not checked (its request still is).

``prefix`` is a legacy path prefix the stub also serves (SnapTrade's ``/api/v1``): a path under
it is checked as the same path without it. Requests are matched against ``server`` (the
spec's server URL), whatever host the stub listens on.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPECS = Path(__file__).parent / "specs"
"""Verbatim copies of the vendors' specs (``specs/SOURCES.md`` says where each is from)."""
FAULT = "flint.stub.fault"


def spec_path(name: str) -> Path:
    return SPECS / name


@functools.cache
def load(path: Path) -> OpenAPI:
    return OpenAPI.from_file_path(str(path))


def fault(request: StarletteRequest) -> None:
    """Mark this request's response as a deliberate departure from the spec."""
    request.scope[FAULT] = True


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass
class _Response:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers


@dataclass
class Contract:
    """One vendor spec, and what broke it so far."""

    spec: Path
    server: str
    prefix: str = ""
    undocumented_errors: bool = False
    """Whether an error status the operation does not list (and no ``default``) is let pass
    unchecked: a spec subset that documents only the successes (Twilio's) needs it."""
    violations: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def openapi(self) -> OpenAPI:
        return load(self.spec)

    def request(
        self,
        method: str,
        path: str,
        query: bytes,
        headers: Mapping[str, str],
        body: bytes,
    ) -> _Request:
        if self.prefix and path.startswith(self.prefix + "/"):
            path = path[len(self.prefix) :]
        return _Request(
            host_url=self.server,
            path=path,
            method=method.lower(),
            body=body or None,
            content_type=headers.get("content-type", "application/json"),
            parameters=RequestParameters(
                query=ImmutableMultiDict(parse_qsl(query.decode("latin-1"), True)),
                header=Headers(list(headers.items())),
                cookie=ImmutableMultiDict(),
            ),
        )

    def check_request(self, request: _Request) -> None:
        for error in self.openapi.iter_request_errors(request):
            self._add(request, "request", error)

    def check_response(self, request: _Request, status: int, headers: Headers, body: bytes) -> None:
        if status >= 400 and self.undocumented_errors and not self._documents(request, status):
            return
        response = _Response(status, body, headers.get("content-type", ""), headers)
        for error in self.openapi.iter_response_errors(request, response):
            self._add(request, f"response {status}", error)

    def _documents(self, request: _Request, status: int) -> bool:
        operation = self.openapi.spec / "paths"
        for template, item in operation.items():
            if _matches(str(template), request.path) and request.method in item:
                responses = item[request.method]["responses"]
                return str(status) in responses or "default" in responses
        return False

    def _add(self, request: _Request, what: str, error: BaseException) -> None:
        found: list[BaseException] = [error]
        while (cause := found[-1].__cause__ or found[-1].__context__) is not None:
            found.append(cause)
        schema_errors = [e for c in found for e in getattr(c, "schema_errors", None) or ()]
        if schema_errors:
            detail = "; ".join(
                f"{e.message[:200]} at {list(e.absolute_path)}" for e in schema_errors
            )
        else:
            detail = " <- ".join(f"{type(c).__name__}: {str(c)[:200]}" for c in found)
        with self._lock:
            self.violations.append(f"{request.method.upper()} {request.path}: {what}: {detail}")

    def clear(self) -> None:
        with self._lock:
            self.violations.clear()

    def assert_clean(self) -> None:
        with self._lock:
            found = list(self.violations)
        assert not found, "the stub or the adapter broke the vendor's spec:\n" + "\n".join(found)


def _matches(template: str, path: str) -> bool:
    """Whether ``path`` fits the path template ``template`` (``{name}`` is one segment)."""
    pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, path) is not None


def checked(app: Starlette, contract: Contract) -> Starlette:
    """``app`` with its exchanges checked against ``contract`` (kept as ``app.state.contract``)."""
    _ = contract.openapi  # parse the spec now, not inside the first request's time
    app.add_middleware(ContractCheck, contract=contract)
    app.state.contract = contract
    return app


class ContractCheck:
    """ASGI middleware: validate each exchange against ``contract`` (see the module doc)."""

    def __init__(self, app: ASGIApp, contract: Contract) -> None:
        self.app = app
        self.contract = contract

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request = self.contract.request(
            scope["method"], scope["path"], scope.get("query_string", b""), headers, body
        )
        self.contract.check_request(request)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 0
        out_headers = Headers()
        out: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for key, value in message.get("headers", []):
                    out_headers.add(key.decode("latin-1"), value.decode("latin-1"))
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
                if not message.get("more_body", False) and not scope.get(FAULT):
                    self.contract.check_response(request, status, out_headers, b"".join(out))
            await send(message)

        await self.app(scope, replay, capture)
