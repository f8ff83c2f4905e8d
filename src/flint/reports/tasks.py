"""Celery tasks of reports: render one (in short transactions, see the service), and sweep
up reports whose job was lost."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import structlog

from flint.db import commit
from flint.jobs import celery_app, run_async, runtime
from flint.reports import service

log = structlog.get_logger(__name__)

MAX_RETRIES = 5


def _context() -> service.RenderContext:
    return runtime().get(service.RenderContext)


async def _render(report_id: uuid.UUID) -> str:
    ctx = _context()
    sessions = runtime().sessions
    async with sessions() as session:
        status = await service.begin(session, report_id)
        await commit(session)
    if status != "running":
        return status
    async with sessions() as session:
        prepared = await service.gather(session, ctx, report_id)
        await commit(session)  # market data the figures needed was stored
    stored = await service.produce(ctx, prepared)
    async with sessions() as session:
        status = await service.complete(session, ctx, report_id, stored)
        await commit(session)
    return status


async def _fail(report_id: uuid.UUID, reason: str) -> str:
    async with runtime().sessions() as session:
        status = await service.fail(session, report_id, reason)
        await commit(session)
        return status


@celery_app.task(name=service.RENDER, bind=True, max_retries=MAX_RETRIES)
def render(self: Any, report_id: str) -> str:
    """Acked late (worker config): a worker that dies mid-way leaves the job to another."""
    rid = uuid.UUID(report_id)
    try:
        return run_async(_render(rid))
    except service.ReportFailed as exc:
        return run_async(_fail(rid, exc.reason))
    except service.TRANSIENT as exc:
        if self.request.retries >= MAX_RETRIES:
            reason = f"The report could not be made after {MAX_RETRIES + 1} tries: {exc}"
            return run_async(_fail(rid, reason))
        log.warning("report_retry", report_id=report_id, error=repr(exc))
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 60)) from exc
    except Exception as exc:
        log.exception("report_crashed", report_id=report_id)
        return run_async(_fail(rid, service.permanent_reason(exc)))


@celery_app.task(name="flint.reports.sweep")
def sweep() -> int:
    """Every minute: publish again the reports left queued (a lost publish) or running for
    long (a worker gone for good)."""

    async def _run() -> list[uuid.UUID]:
        async with runtime().sessions() as session:
            return await service.stale(
                session, queued_for=timedelta(minutes=2), running_for=timedelta(minutes=15)
            )

    ids = run_async(_run())
    for report_id in ids:
        render.delay(str(report_id))
    return len(ids)
