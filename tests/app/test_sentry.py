"""Sentry, end to end: the SDK (its FastAPI and Celery integrations) sends to a local envelope
endpoint; an unhandled error of a request and of a task each arrive once, under the request
id, scrubbed of secrets. Off without a DSN."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request

from flint import jobs
from flint.app.sentry import init_sentry
from flint.config import Settings
from tests.stubs.sentry import SentryControl, dsn, sentry_app
from tests.stubs.server import RunningStub, run_stub
from tests.trades.conftest import worker

__all__ = ["worker"]

pytestmark = [pytest.mark.timeout(60), pytest.mark.xdist_group("sentry")]

PASSWORD = "Tr0ub4dor&3-horse-staple"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZW50cnkifQ.c2lnbmF0dXJl"
TASK_SECRET = "snaptrade-user-secret-6f2"


@jobs.celery_app.task(name="tests.sentry.fail")
def fail(user_secret: str) -> None:
    """A task failing with a secret in its arguments, its locals and its message."""
    password = PASSWORD  # noqa: F841  (a local the event's frame shows)
    raise RuntimeError(f"provider refused userSecret={user_secret}")


@pytest.fixture
def stub() -> Iterator[RunningStub]:
    with run_stub(sentry_app()) as running:
        yield running
    sentry_sdk.init()  # the SDK is per process: send nothing more to a stopped stub


@pytest.fixture
def settings_overrides(stub: RunningStub) -> dict[str, Any]:
    return {"sentry_dsn": dsn(stub.url), "sentry_release": "flint@test-1"}


def events(stub: RunningStub, count: int, within: float = 15) -> list[dict[str, Any]]:
    """The error events received once ``count`` arrived (and a moment more for extras)."""
    control = stub.control
    assert isinstance(control, SentryControl)
    deadline = time.monotonic() + within
    while len(control.events()) < count and time.monotonic() < deadline:
        sentry_sdk.flush(timeout=1)
        time.sleep(0.1)
    sentry_sdk.flush(timeout=2)
    time.sleep(0.5)
    return control.events()


def add_failing_route(app: FastAPI) -> None:
    @app.post("/api/v1/_test/fail")
    async def failing(request: Request) -> None:
        body = await request.json()
        secret_locals = {"password": body["password"]}  # noqa: F841
        raise RuntimeError("the ledger is inconsistent")


async def test_an_unhandled_error_in_a_request_arrives_once_with_its_request_id_scrubbed(
    app: FastAPI, client: httpx.AsyncClient, stub: RunningStub
) -> None:
    add_failing_route(app)

    response = await client.post(
        "/api/v1/_test/fail?access_token=qs-secret-token&page=2",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers={"Authorization": f"Bearer {BEARER}", "Cookie": "flint_session=cookie-secret"},
    )

    assert response.status_code == 500
    [event] = await asyncio.to_thread(events, stub, 1)
    assert event["exception"]["values"][-1]["value"] == "the ledger is inconsistent"
    assert event["tags"]["request_id"] == response.headers["X-Request-ID"]
    assert event["tags"]["process"] == "api"
    assert event["release"] == "flint@test-1"
    assert event["environment"] == "test"
    assert event["request"]["url"].endswith("/api/v1/_test/fail")
    text = json.dumps(event)
    leaked = [s for s in (PASSWORD, BEARER, "qs-secret-token", "cookie-secret") if s in text]
    assert leaked == []


@pytest.mark.usefixtures("worker")
def test_an_unhandled_error_in_a_task_arrives_once_with_the_sending_request_id(
    stub: RunningStub,
) -> None:
    token = correlation_id.set("req-sentry-task-1")
    try:
        jobs.send("tests.sentry.fail", TASK_SECRET)
    finally:
        correlation_id.reset(token)

    [event] = events(stub, 1)
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["tags"]["request_id"] == "req-sentry-task-1"
    assert event["tags"]["process"] == "worker"
    assert "celery" in event["contexts"] or event.get("transaction") == "tests.sentry.fail"
    assert TASK_SECRET not in json.dumps(event)
    assert PASSWORD not in json.dumps(event)


def test_without_a_dsn_sentry_stays_off(settings: Settings) -> None:
    assert init_sentry(settings.model_copy(update={"sentry_dsn": None}), "api") is False
    assert init_sentry(settings, "api") is True
    assert sentry_sdk.get_client().is_active()
