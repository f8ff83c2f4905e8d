"""Trade tests run a real Celery worker inside the test process (solo pool, the in-memory
broker the test settings name), built from the test's own settings, so trades go through the
same publish → worker → provider path as in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import celery.contrib.testing.tasks  # noqa: F401 (registers celery.ping: the stop's wake-up)
import httpx
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.worker import state as worker_state

from flint.app.worker import configure
from flint.config import Settings
from tests.conftest import Account

POLLING_SECONDS = 0.01
"""How often the worker looks for a message in the in-memory broker (kombu's default: 1 s)."""


@contextmanager
def embedded_worker(celery_app: Celery) -> Iterator[None]:
    """Celery's test worker (a thread; solo pool) for the block, quick to take a task and to
    stop: it polls the in-memory broker every 10 ms, not every second, and at the end it is sent
    two pings, so that it sees the stop at once instead of when its wait for a message ends
    (its loop waits once more after it has seen the stop; each wait 2 s: the 4 s every test
    with a worker took to tear down)."""
    celery_app.conf.broker_transport_options = {"polling_interval": POLLING_SECONDS}
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        try:
            yield
        finally:
            worker_state.should_terminate = 0  # what start_worker sets before it waits
            for _ in range(2):
                celery_app.send_task("celery.ping")


@pytest.fixture
def worker(settings: Settings) -> Iterator[None]:
    celery_app = configure(settings)
    try:
        with embedded_worker(celery_app):
            yield
    finally:
        configure(None)


async def link_sandbox(
    client: httpx.AsyncClient, who: Account, code: str = "trader", *, always_open: bool = True
) -> dict[str, Any]:
    """Link the sandbox; by default with ``always-open``, so orders trade at whatever hour the
    test runs (the market-hours rules are tested on the sandbox with a clock of their own)."""
    if always_open:
        code = f"{code}:always-open"
    response = await client.post(
        "/api/v1/accounts/link", json={"provider": "sandbox", "authCode": code}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
