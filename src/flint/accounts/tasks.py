"""Celery tasks of the accounts feature: syncing links (on request and daily)."""

from __future__ import annotations

import uuid
from functools import partial

import anyio

from flint.accounts import service
from flint.db import commit
from flint.kit.vendor_errors import ProviderError
from flint.worker import celery_app, run_async, runtime


@celery_app.task(
    name="flint.accounts.sync_link",
    autoretry_for=(ProviderError,),
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=5,
)
def sync_link(link_id: str) -> int:
    async def _run() -> int:
        async with runtime.sessionmaker()() as session:
            synced = await service.sync_link(session, runtime.accounts(), uuid.UUID(link_id))
            await commit(session)
            return synced

    return run_async(_run())


@celery_app.task(name="flint.accounts.sync_all")
def sync_all() -> int:
    async def _run() -> list[uuid.UUID]:
        async with runtime.sessionmaker()() as session:
            return await service.active_links(session)

    links = run_async(_run())
    for link_id in links:
        sync_link.delay(str(link_id))
    return len(links)


async def enqueue_sync(link_id: uuid.UUID) -> None:
    """Publishing is blocking I/O in kombu, so it happens on a worker thread."""
    await anyio.to_thread.run_sync(partial(sync_link.delay, str(link_id)))
