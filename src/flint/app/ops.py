"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, JsonValue
from sqlalchemy import text

from flint.config import Settings
from flint.kit import vendor_status
from flint.kit.http import breaker_state
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
    required: bool = Field(
        True, description="Whether the service is ready only when this check is ok."
    )


READY_EXAMPLE: dict[str, JsonValue] = {
    "status": "ok",
    "checks": {
        "database": {"status": "ok", "detail": None, "required": True},
        "redis": {"status": "ok", "detail": None, "required": True},
        "broker": {"status": "ok", "detail": None, "required": True},
        "market:yahoo": {"status": "ok", "detail": "circuit closed", "required": False},
        "snaptrade": {
            "status": "error",
            "detail": "circuit open: calls fail fast for up to 30 s",
            "required": False,
        },
        "smtp": {"status": "ok", "detail": "configured (not contacted)", "required": False},
    },
}


class Readiness(ApiModel):
    """Every dependency by name; ``status`` is ``error`` when a required one is down."""

    model_config = ConfigDict(json_schema_extra={"examples": [READY_EXAMPLE]})

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


def vendor_checks(settings: Settings) -> dict[str, Check]:
    """Each configured vendor, judged without calling it (a probe every few seconds would spend
    its rate limit): by this process's circuit breaker for vendors behind the vendor HTTP
    client, as "configured" for the others, and in both cases as an error when this process
    found the vendor refusing its configuration (`flint.kit.vendor_status`). None of them is
    required: Flint answers without a vendor (failover, stale quotes, queued messages)."""
    breakered = [f"market:{name}" for name in configured_market_providers(settings)]
    if settings.snaptrade_client_id and settings.snaptrade_consumer_key:
        breakered.append("snaptrade")
    if settings.teller_certificate_path and settings.teller_private_key_path:
        breakered.append("teller")
    if settings.sms_backend == "twilio":
        breakered.append("twilio")
    checks = {name: _breaker_check(name, settings) for name in breakered}
    if settings.email_backend == "smtp":
        checks["smtp"] = Check(status="ok", detail="configured (not contacted)", required=False)
    for name in list(checks):
        # A configuration the vendor refused (credentials, certificate, plan) outranks the
        # breaker: waiting will not fix it.
        found = vendor_status.misconfiguration(name.removeprefix("market:"), settings.data_dir)
        if found is not None:
            detail = f"configuration refused: {found.reason}"
            checks[name] = Check(status="error", detail=detail, required=False)
    if settings.billing_enabled:
        checks["stripe"] = Check(status="ok", detail="configured (not contacted)", required=False)
    return checks


def configured_market_providers(settings: Settings) -> list[str]:
    """The market-data vendors of the chain (the simulated market needs no check)."""
    skipped = {"simulated"}
    if settings.alpha_vantage_api_key is None:  # left out of the chain (`build_providers`)
        skipped.add("alpha_vantage")
    return [name for name in dict.fromkeys(settings.market_providers) if name not in skipped]


def _breaker_check(name: str, settings: Settings) -> Check:
    state, opened_at = breaker_state(name.removeprefix("market:"))
    if state == "closed":
        return Check(status="ok", detail="circuit closed", required=False)
    recovery = settings.vendor_breaker_recovery_seconds
    waited = time.time() - opened_at if opened_at is not None else 0.0
    if state == "opened" and waited >= recovery:
        # The breaker changes state only when called: nobody has asked the vendor since.
        detail = f"circuit opened {round(waited)} s ago; the next call tries the vendor again"
    else:
        detail = f"circuit {state}: calls fail fast for up to {round(recovery)} s"
    return Check(status="error", detail=detail, required=False)


@router.get(
    "/readyz",
    summary="Readiness: each dependency by name",
    description="Checks the database always, Redis and the message broker when configured "
    "(all three required), and each configured vendor by its circuit breaker in this process, "
    "without calling it (not required: Flint serves without them). Failures are reported by "
    "kind only, never with addresses or credentials.",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A required dependency is down"}},
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
    checks = dict(zip(probes, results, strict=True)) | vendor_checks(runtime.settings)
    ready = all(check.status == "ok" for check in checks.values() if check.required)
    body = Readiness(status="ok" if ready else "error", checks=checks)
    return JSONResponse(body.model_dump(by_alias=True), status_code=200 if ready else 503)
