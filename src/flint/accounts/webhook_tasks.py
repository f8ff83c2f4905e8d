"""Celery tasks of SnapTrade's webhooks: handle one stored event, and sweep up the events whose
job was lost."""

from __future__ import annotations

from datetime import timedelta

from flint.accounts import webhooks
from flint.accounts.service import Accounts
from flint.db import commit
from flint.jobs import celery_app, run_async, runtime
from flint.kit.vendor_errors import ProviderError


@celery_app.task(
    name=webhooks.HANDLE,
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def handle_snaptrade_webhook(webhook_id: str) -> str:
    """SnapTrade unreachable: retried with backoff, then left to the sweep."""
    process = runtime()
    return run_async(webhooks.handle(process.sessions, process.get(Accounts), webhook_id))


@celery_app.task(name="flint.accounts.sweep_snaptrade_webhooks")
def sweep_snaptrade_webhooks() -> int:
    """Every few minutes: send again the events whose job was lost, and forget old ones."""

    async def _run() -> list[str]:
        async with runtime().sessions() as session:
            await webhooks.prune(session)
            ids = await webhooks.pending(session, timedelta(minutes=5))
            await commit(session)
            return ids

    ids = run_async(_run())
    for webhook_id in ids:
        handle_snaptrade_webhook.delay(webhook_id)
    return len(ids)
