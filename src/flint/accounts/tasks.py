"""Celery tasks of the accounts feature: syncing links (on request and daily)."""

from __future__ import annotations

import uuid

from flint.accounts import service, sync_requests
from flint.db import commit
from flint.jobs import celery_app, run_async, runtime
from flint.kit.vendor_errors import ProviderError


@celery_app.task(
    name=sync_requests.SYNC_LINK,
    autoretry_for=(ProviderError,),
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=5,
)
def sync_link(link_id: str) -> int:
    async def _run() -> int:
        process = runtime()
        link = uuid.UUID(link_id)
        async with process.sessions() as session:  # requests from now on send another sync
            await sync_requests.sync_begun(session, link)
            await commit(session)
        async with process.sessions() as session:
            accounts = process.get(service.Accounts)
            synced = await service.sync_link(session, accounts, link)
            await commit(session)
            return synced

    return run_async(_run())


@celery_app.task(name="flint.accounts.sync_all")
def sync_all() -> int:
    async def _run() -> list[uuid.UUID]:
        async with runtime().sessions() as session:
            return await service.active_links(session)

    links = run_async(_run())
    for link_id in links:
        sync_link.delay(str(link_id))
    return len(links)
