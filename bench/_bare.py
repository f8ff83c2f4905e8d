"""The ceilings the HTTP benchmarks measure Flint against: the same ``GET /ok`` answering
``{"ok": true}`` in a bare Starlette app and in a bare FastAPI app, no middleware, served by the
same uvicorn settings as Flint (``bench._common.uvicorn_server``).

The FastAPI one is the baseline of every target: it is what any FastAPI service pays for
routing, the dependency solver and response serialisation; Starlette shows what is left below
that. Both answer ``GET /healthz`` too, so the bench's readiness probe works on them.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PATH = "/ok"


async def _ok(_: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def starlette() -> Starlette:
    return Starlette(routes=[Route(PATH, _ok), Route("/healthz", _ok)])


def fastapi() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get(PATH)
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    return app
