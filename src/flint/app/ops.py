"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from flint.kit.schema import ApiModel
from flint.runtime import Runtime

router = APIRouter(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 3.0


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class Health(ApiModel):
    status: Literal["ok"] = "ok"


class Check(ApiModel):
    status: Literal["ok", "error"]
    detail: str | None = None


class Readiness(ApiModel):
    status: Literal["ok", "error"]
    checks: dict[str, Check]


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health()


async def _database(runtime: Runtime) -> None:
    async with runtime.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _redis(runtime: Runtime) -> None:
    import redis.asyncio as redis

    assert runtime.settings.redis_url
    client = redis.from_url(runtime.settings.redis_url, socket_connect_timeout=2)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _broker(runtime: Runtime) -> None:
    from kombu.connection import Connection

    def connect() -> None:
        with Connection(runtime.settings.broker_url, connect_timeout=2) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1)

    await anyio.to_thread.run_sync(connect)


@router.get(
    "/readyz",
    summary="Readiness: each dependency reachable",
    description="Checks the database always, and Redis and the message broker when configured. "
    "Failures are reported by kind only, never with addresses or credentials.",
    responses={503: {"model": Readiness, "description": "A dependency is down"}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    probes: dict[str, Callable[[Runtime], Awaitable[None]]] = {"database": _database}
    if runtime.settings.redis_url:
        probes["redis"] = _redis
    if runtime.settings.broker_url:
        probes["broker"] = _broker

    async def run(probe: Callable[[Runtime], Awaitable[None]]) -> Check:
        try:
            await asyncio.wait_for(probe(runtime), CHECK_TIMEOUT_SECONDS)
        except Exception as exc:  # any failure means "not ready"
            return Check(status="error", detail=type(exc).__name__)
        return Check(status="ok")

    results = await asyncio.gather(*(run(probe) for probe in probes.values()))
    checks = dict(zip(probes, results, strict=True))
    ready = all(check.status == "ok" for check in checks.values())
    body = Readiness(status="ok" if ready else "error", checks=checks)
    return JSONResponse(body.model_dump(by_alias=True), status_code=200 if ready else 503)
