"""Celery tasks of sign-in: the worker's half of a password-reset request, and the daily pruning
of expired credentials."""

from __future__ import annotations

import structlog

from flint.auth import service, sessions
from flint.db import commit
from flint.jobs import celery_app, run_async, runtime

log = structlog.get_logger(__name__)
PRUNE = "flint.auth.prune"


@celery_app.task(name=service.SEND_RESET)
def send_password_reset(email: str) -> None:
    """Look the account up and queue its reset email (the request only counted and enqueued,
    so that its answer says nothing about whether the account exists)."""

    async def _run() -> None:
        async with runtime().sessions() as session:
            await service.send_password_reset(session, runtime().get(service.ResetMail), email)
            await commit(session)

    run_async(_run())


@celery_app.task(name=PRUNE)
def prune() -> None:
    """Delete the credentials nobody can use any more (`sessions.prune`), once a day."""

    async def _run() -> None:
        async with runtime().sessions() as session:
            deleted = await sessions.prune(session)
            await commit(session)
        log.info("auth_pruned", **deleted)

    run_async(_run())
