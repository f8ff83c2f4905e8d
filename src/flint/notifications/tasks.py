"""Celery tasks of the notifications feature: thin wrappers around the service."""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

import anyio

from flint.db import commit
from flint.notifications import service
from flint.notifications.errors import DeliveryError
from flint.worker import celery_app, run_async, runtime


@celery_app.task(
    name="flint.notifications.deliver",
    autoretry_for=(DeliveryError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=service.MAX_ATTEMPTS,
)
def deliver(message_id: str) -> str:
    async def _run() -> str:
        async with runtime.sessionmaker()() as session:
            try:
                status = await service.deliver(session, runtime.settings(), uuid.UUID(message_id))
            finally:
                await commit(session)  # attempts and last_error are kept even when it raises
            return status

    return run_async(_run())


@celery_app.task(name="flint.notifications.resend_stale")
def resend_stale() -> int:
    async def _run() -> list[uuid.UUID]:
        async with runtime.sessionmaker()() as session:
            return await service.stale_pending(session, timedelta(minutes=2))

    ids = run_async(_run())
    for message_id in ids:
        deliver.delay(str(message_id))
    return len(ids)


async def enqueue_delivery(message_id: uuid.UUID) -> None:
    """Publishing is blocking I/O in kombu, so it happens on a worker thread."""
    await anyio.to_thread.run_sync(partial(deliver.delay, str(message_id)))
