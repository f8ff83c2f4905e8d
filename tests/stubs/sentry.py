"""A local Sentry: the envelope ingestion endpoint ``POST /api/{project_id}/envelope/``.

As Sentry's developer documentation describes envelopes: the body (``Content-Encoding``
``gzip``, ``deflate`` or ``br`` when the client compresses it) is a JSON header line, then
items, each a JSON item header line (``type``, optional ``length`` in bytes) followed by its
payload (``length`` bytes, else up to the next newline). Authentication is the
``X-Sentry-Auth`` header (``Sentry sentry_key=<public key>, ...``) or the ``sentry_key`` query
parameter; without one the stub answers 401 as Sentry does. Accepted envelopes answer
``200 {"id": <event id>}``.

Every item is kept in ``control.items`` (type, header, payload parsed as JSON where it is);
``control.events()`` gives the error events' payloads. Scenario ``500`` answers 500.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.stubs.server import StubControl, stub_app

PUBLIC_KEY = "stubpublickey0123456789abcdef01"
PROJECT_ID = "1"


def dsn(url: str) -> str:
    """The DSN naming this stub, e.g. ``http://<key>@127.0.0.1:<port>/1``."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{PUBLIC_KEY}@{rest}/{PROJECT_ID}"


@dataclass
class Item:
    type: str
    header: dict[str, Any]
    payload: Any


@dataclass
class SentryControl(StubControl):
    """:class:`StubControl` plus every envelope item received, oldest first."""

    items: list[Item] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [item.payload for item in self.items if item.type == "event"]

    def reset(self) -> None:
        super().reset()
        self.items.clear()


def _decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # type: ignore[import-not-found]  # only present when the SDK can use it

        return bytes(brotli.decompress(body))
    return body


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[Item]]:
    """The envelope's header and items (raises ValueError on a malformed envelope)."""
    header_line, _, rest = body.partition(b"\n")
    header = json.loads(header_line)
    items: list[Item] = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_header = json.loads(item_line)
        length = item_header.get("length")
        if length is None:
            raw, _, rest = rest.partition(b"\n")
        else:
            raw, rest = rest[:length], rest[length:]
            if len(raw) != length:
                raise ValueError("an item is shorter than its length")
            rest = rest.removeprefix(b"\n")
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = raw
        items.append(Item(str(item_header.get("type")), item_header, payload))
    return header, items


def _authenticated(request: Request) -> bool:
    auth = request.headers.get("x-sentry-auth", "")
    return (
        f"sentry_key={PUBLIC_KEY}" in auth or request.query_params.get("sentry_key") == PUBLIC_KEY
    )


def sentry_app() -> Starlette:
    control = SentryControl()

    async def envelope(request: Request) -> JSONResponse:
        scenario = control.record(request)
        if request.path_params["project_id"] != PROJECT_ID:
            return JSONResponse({"detail": "project not found"}, status_code=404)
        if not _authenticated(request):
            return JSONResponse({"detail": "missing authorization header"}, status_code=401)
        if scenario == "500":
            return JSONResponse({"detail": "internal error"}, status_code=500)
        try:
            body = _decoded(await request.body(), request.headers.get("content-encoding", ""))
            header, items = parse_envelope(body)
        except (ValueError, OSError, zlib.error) as exc:
            return JSONResponse({"detail": f"invalid envelope: {exc}"}, status_code=400)
        with control._lock:
            control.items.extend(items)
        return JSONResponse({"id": header.get("event_id")})

    return stub_app(
        [Route("/api/{project_id}/envelope/", envelope, methods=["POST"])],
        control,
    )
