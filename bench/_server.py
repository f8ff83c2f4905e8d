"""The ASGI factory the HTTP benchmarks serve: Flint's app exactly as ``flint serve`` builds it
(settings from ``FLINT_*``), plus ``GET /bench/ok`` answering ``{"ok": true}`` on the same app
instance, so the bare route passes through the same middleware stack as every API route."""

from __future__ import annotations

from fastapi import FastAPI

from flint.app.main import create_app
from flint.config import get_settings

BARE_PATH = "/bench/ok"


async def bench_ok() -> dict[str, bool]:
    return {"ok": True}


def create() -> FastAPI:
    app = create_app(get_settings())
    app.add_api_route(BARE_PATH, bench_ok, methods=["GET"], include_in_schema=False)
    return app
