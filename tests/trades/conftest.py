"""Trade tests run a real Celery worker inside the test process (solo pool, the in-memory
broker the test settings name), built from the test's own settings, so trades go through the
same publish → worker → provider path as in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker

from flint.app.worker import configure
from flint.config import Settings
from tests.conftest import Account

TIMER_PRECISION = 0.05
"""How long the worker's timer (retries and countdowns) sleeps at most between looks: Celery's
second stalled each worker's stop by up to a second (the queue's waits: tests/memory_broker.py)."""


def solo_worker(celery_app: Celery) -> Any:
    """Celery's test worker for ``celery_app`` (a context manager: a solo worker in a thread of
    this process while it is entered), as every worker of the tests runs."""
    return start_worker(
        celery_app,
        pool="solo",
        perform_ping_check=False,
        shutdown_timeout=30,
        timer_precision=TIMER_PRECISION,
    )


@contextmanager
def worker_running(settings: Settings) -> Iterator[None]:
    """A worker of ``settings`` in a thread of this process until the block ends."""
    celery_app = configure(settings)
    try:
        with solo_worker(celery_app):
            yield
    finally:
        configure(None)


@pytest.fixture
def worker(settings: Settings) -> Iterator[None]:
    with worker_running(settings):
        yield


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
