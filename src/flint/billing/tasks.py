"""Celery tasks of billing: handle one Stripe event, and sweep up events whose job was lost."""

from __future__ import annotations

from datetime import timedelta

from flint.billing import events
from flint.billing.service import Billing
from flint.db import commit
from flint.jobs import celery_app, run_async, runtime
from flint.kit.vendor_errors import ProviderError


def _handling() -> events.Handling | None:
    process = runtime()
    billing = process.get(Billing)
    if billing.gateway is None:
        return None
    return events.Handling(
        sessions=process.sessions,
        readers=process.readers,
        gateway=billing.gateway,
        premium_price_id=billing.premium_price_id,
    )


@celery_app.task(
    name=events.HANDLE,
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
)
def handle_event(event_id: str) -> str:
    """Stripe unreachable: retried with backoff, then left to the sweep."""
    ctx = _handling()
    if ctx is None:
        return "billing is not configured"
    return run_async(events.handle(ctx, event_id))


@celery_app.task(name="flint.billing.sweep")
def sweep() -> int:
    """Every few minutes: send again the events whose job was lost, and forget old ones."""
    if _handling() is None:
        return 0

    async def _run() -> list[str]:
        async with runtime().sessions() as session:
            await events.prune(session)
            ids = await events.pending(session, timedelta(minutes=5))
            await commit(session)
            return ids

    ids = run_async(_run())
    for event_id in ids:
        handle_event.delay(event_id)
    return len(ids)
