"""Imports in the background: a large file (or one sent with ``Prefer: respond-async``) is kept
as an `ImportJob` and imported by a worker, and the request answers 202 at once; the client
polls the job for its outcome.

A 5 MiB file is 150,000 rows: reading and checking it is seconds of CPU, which in the API
process would hold up every other request of that process. In a worker it holds up nothing.

Exactly once: the rows, their fingerprints and the job's ``done`` are one transaction, begun by
locking the job's row; a second delivery of the task (a worker killed before it acknowledged,
the sweep's re-publish of a job that seemed lost) finds the job finished and writes nothing. A
refused file (the 422 it would have had, kept as the job's ``problem``) leaves the ledger as it
was: the rows are written in a savepoint that is rolled back.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from flint.db import commit
from flint.errors import FlintError, NotFound, ValidationFailed, field_error, problem_of
from flint.jobs import enqueue
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import fingerprints, imports
from flint.portfolio.models import ImportJob, Portfolio

TASK = "flint.portfolio.import_file"
SWEEP_TASK = "flint.portfolio.sweep_imports"
BACKGROUND_BYTES = 256 * 1024
"""A file larger than this (about 7,000 rows of CSV, a second of work) is imported in the
background; a smaller one at once, unless the request asks otherwise."""
FINAL = ("done", "failed")
LISTED = 50
"""`recent` lists this many of a portfolio's imports, newest first."""
QUEUED_FOR = timedelta(minutes=2)
RUNNING_FOR = timedelta(minutes=15)
"""The sweep publishes again a job queued for longer than `QUEUED_FOR` (its message lost) or
running for longer than `RUNNING_FOR` (its worker gone for good)."""

MAX_ATTEMPTS = 5

Sessions = Callable[[], AsyncSession]


class ImportFailed(FlintError):
    """An import that failed for a reason of Flint's, not the file's (kept as the job's
    problem: the import stopped too often, or an error nobody expected)."""

    status, title, slug = 500, "Import failed", "import-failed"


def refused(exc: imports.ImportRefused) -> ValidationFailed:
    """The 422 of a file its preset cannot read, naming every bad row."""
    return ValidationFailed(
        f"The file was not imported: {exc}",
        errors=[field_error(where, why) for where, why in exc.problems],
    )


async def create(
    session: AsyncSession, portfolio: Portfolio, data: bytes, preset: str, on_duplicate: str
) -> ImportJob:
    """Keep the file as a queued job, sent to a worker once ``session`` commits."""
    job = ImportJob(
        portfolio_id=portfolio.id,
        preset=preset,
        on_duplicate=on_duplicate,
        status="queued",
        size_bytes=len(data),
        payload=data,
        attempts=0,
        created_at=utcnow(),
    )
    session.add(job)
    await session.flush()
    enqueue(session, TASK, str(job.id))
    return job


async def get(session: AsyncSession, portfolio: Portfolio, job_id: uuid.UUID) -> ImportJob:
    """The portfolio's job ``job_id`` (another portfolio's is not found, like a missing one)."""
    job = await session.scalar(
        select(ImportJob).where(ImportJob.id == job_id, ImportJob.portfolio_id == portfolio.id)
    )
    if job is None:
        raise NotFound("No such import for this portfolio.")
    return job


async def recent(session: AsyncSession, portfolio: Portfolio) -> Sequence[ImportJob]:
    """The portfolio's last `LISTED` imports in the background, newest first."""
    rows = await session.scalars(
        select(ImportJob)
        .where(ImportJob.portfolio_id == portfolio.id)
        .order_by(ImportJob.created_at.desc(), ImportJob.id)
        .limit(LISTED)
    )
    return rows.all()


# --- the worker's side -----------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    payload: bytes
    preset: str


async def _locked(
    session: AsyncSession, job_id: uuid.UUID, *, with_payload: bool = False
) -> ImportJob | None:
    """The job, its row locked until the transaction ends (PostgreSQL; on SQLite a transaction
    that writes holds the database's write lock from its start)."""
    stmt = select(ImportJob).where(ImportJob.id == job_id).with_for_update()
    if with_payload:
        stmt = stmt.options(undefer(ImportJob.payload))
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def begin(session: AsyncSession, job_id: uuid.UUID) -> Work | None:
    """Mark the job running and hand over its file; None when it is finished or gone (or has
    been taken `MAX_ATTEMPTS` times already: a file that kills its worker fails for good)."""
    job = await _locked(session, job_id, with_payload=True)
    if job is None or job.status in FINAL or job.payload is None:
        return None
    if job.attempts >= MAX_ATTEMPTS:
        stopped = ImportFailed(
            f"The file could not be imported: its import stopped {job.attempts} times without "
            "finishing (the error was logged). Nothing was added."
        )
        _finish(job, result=None, problem=stopped)
        return None
    job.status = "running"
    job.started_at = utcnow()
    job.attempts += 1
    return Work(job.payload, job.preset)


def _finish(job: ImportJob, *, result: dict[str, Any] | None, problem: FlintError | None) -> None:
    job.status = "failed" if problem is not None else "done"
    job.result = result
    job.problem = (
        problem_of(problem).model_dump(mode="json", by_alias=True, exclude_none=True)
        if problem is not None
        else None
    )
    job.payload = None
    job.finished_at = utcnow()


async def complete(
    session: AsyncSession,
    market: MarketData,
    job_id: uuid.UUID,
    parsed: imports.Parsed | None,
    problem: FlintError | None,
) -> str:
    """Import ``parsed`` (or record ``problem``, the file's refusal) and finish the job, in
    one transaction; answers the job's status (``gone``: deleted with its portfolio)."""
    job = await _locked(session, job_id)
    if job is None:
        return "gone"
    if job.status in FINAL:
        return job.status  # another delivery of the task finished it
    portfolio = await session.get(Portfolio, job.portfolio_id)
    if portfolio is None:
        return "gone"
    if parsed is not None and problem is None:
        on_duplicate: fingerprints.OnDuplicate = "fail" if job.on_duplicate == "fail" else "skip"
        try:
            async with session.begin_nested():
                done = await fingerprints.import_rows(
                    session, market, portfolio, parsed, parsed.preset, on_duplicate
                )
        except ValidationFailed as exc:
            problem = exc
        else:
            imported = dict(Counter(entry.type for entry in done.created))
            result = {
                "preset": parsed.preset,
                "added": len(done.created),
                "skipped": done.skipped,
                "imported": imported,
            }
            _finish(job, result=result, problem=None)
            await commit(session)
            return job.status
    _finish(job, result=None, problem=problem)
    await commit(session)
    return job.status


async def run(sessions: Sessions, market: MarketData, job_id: uuid.UUID) -> str:
    """The task's whole work: take the job, read the file (here, in the worker's process),
    import it or record why not."""
    async with sessions() as session:
        work = await begin(session, job_id)
        await commit(session)
    if work is None:
        return "finished"
    parsed: imports.Parsed | None = None
    problem: FlintError | None = None
    try:
        parsed = imports.parse(work.payload, work.preset)
    except imports.ImportRefused as exc:
        problem = refused(exc)
    async with sessions() as session:
        return await complete(session, market, job_id, parsed, problem)


async def fail(session: AsyncSession, job_id: uuid.UUID, problem: FlintError) -> str:
    """Finish the job with ``problem`` (an error nobody expected, after the task's retries)."""
    job = await _locked(session, job_id)
    if job is None or job.status in FINAL:
        return "gone" if job is None else job.status
    _finish(job, result=None, problem=problem)
    await commit(session)
    return job.status


async def stale(session: AsyncSession) -> list[uuid.UUID]:
    """Jobs queued longer than `QUEUED_FOR` or running longer than `RUNNING_FOR`."""
    now = utcnow()
    rows = await session.scalars(
        select(ImportJob.id).where(
            ((ImportJob.status == "queued") & (ImportJob.created_at < now - QUEUED_FOR))
            | ((ImportJob.status == "running") & (ImportJob.started_at < now - RUNNING_FOR))
        )
    )
    return list(rows)
