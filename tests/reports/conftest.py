"""Report tests run a real Celery worker in the test process (the trades' ``worker`` fixture:
solo pool, the in-memory broker), so reports go request → publish → worker → store as in
production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx

from flint.app.worker import configure
from flint.config import Settings
from tests.conftest import Account, until_final
from tests.trades.conftest import solo_worker, worker

__all__ = ["worker"]

V1 = "/api/v1/reports"


@asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[None]:
    """A worker thread for the rest of the block, in a test that must act before it starts.
    Started and stopped off the event loop: its runtime runs an event loop of its own."""
    celery_app = await anyio.to_thread.run_sync(configure, settings)
    thread = solo_worker(celery_app)
    await anyio.to_thread.run_sync(thread.__enter__)
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(thread.__exit__, None, None, None)
        await anyio.to_thread.run_sync(configure, None)


async def request_report(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"type": "portfolio_summary", "format": "pdf", "portfolioId": portfolio_id, **fields}
    response = await client.post(f"{V1}/", json=body, headers=who.headers)
    assert response.status_code == 202, response.text
    report: dict[str, Any] = response.json()
    assert report["status"] == "queued"
    assert response.headers["location"] == f"{V1}/{report['reportId']}"
    return report


async def finished(
    client: httpx.AsyncClient, who: Account, report_id: str, seconds: float = 60
) -> dict[str, Any]:
    """Poll the report until it is completed or failed."""
    final = ("completed", "failed")
    return await until_final(client, f"{V1}/{report_id}", who.headers, final, seconds, 0.1)


async def download(
    client: httpx.AsyncClient, who: Account, report: dict[str, Any]
) -> httpx.Response:
    url = httpx.URL(report["downloadUrl"])
    assert url.path == f"{V1}/{report['reportId']}/download"
    response = await client.get(url.path, headers=who.headers)
    assert response.status_code == 200, response.text
    return response
