"""Celery tasks of sign-in: the worker's half of a password-reset request."""

from __future__ import annotations

from flint.auth import service
from flint.db import commit
from flint.jobs import celery_app, run_async, runtime


@celery_app.task(name=service.SEND_RESET)
def send_password_reset(email: str) -> None:
    """Look the account up and queue its reset email (the request only counted and enqueued,
    so that its answer says nothing about whether the account exists)."""

    async def _run() -> None:
        async with runtime().sessions() as session:
            await service.send_password_reset(session, runtime().get(service.ResetMail), email)
            await commit(session)

    run_async(_run())
