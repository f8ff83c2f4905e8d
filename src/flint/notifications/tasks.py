"""Celery tasks of the notifications feature: thin wrappers around the service."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flint.db import commit
from flint.jobs import celery_app, run_async, runtime
from flint.kit.crypto import CredentialBox
from flint.notifications import service
from flint.notifications.errors import DeliveryError


@celery_app.task(
    name=service.DELIVER,
    autoretry_for=(DeliveryError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=service.MAX_ATTEMPTS,
)
def deliver(message_id: str) -> str:
    async def _run() -> str:
        async with runtime().sessions() as session:
            try:
                status = await service.deliver(
                    session, runtime().settings, uuid.UUID(message_id), runtime().get(CredentialBox)
                )
            finally:
                await commit(session)  # attempts and last_error are kept even when it raises
            return status

    return run_async(_run())


@celery_app.task(name="flint.notifications.resend_stale")
def resend_stale() -> int:
    async def _run() -> list[uuid.UUID]:
        async with runtime().sessions() as session:
            return await service.stale_pending(session, timedelta(minutes=2))

    ids = run_async(_run())
    for message_id in ids:
        deliver.delay(str(message_id))
    return len(ids)
