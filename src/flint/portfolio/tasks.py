"""Celery tasks of portfolios: store the closes a ledger's performance needs (`history`), planned
per portfolio and stored per batch of symbols; import a file in the background (`import_jobs`)
and sweep up imports whose task was lost."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import structlog

from flint.errors import FlintError
from flint.jobs import celery_app, run_async, runtime, send
from flint.kit.db_errors import database_unavailable
from flint.kit.heap import collector_paused
from flint.market.api import MarketData
from flint.portfolio import backfill, history, import_jobs

log = structlog.get_logger(__name__)

NICENESS = 19
"""The CPU priority a portfolio's history is planned and stored and a file imported at: below
the API and its performance processes (15), so neither slows the requests asked meanwhile (a
100,000-row import at the worker's own priority doubled /healthz's p99 on 2 cores; at 19,
+45 %). On Linux the block also runs under ``SCHED_IDLE``: a nice task still keeps the core
until its slice ends when the API wakes, an idle-class one gives it up at once (the same
import on SQLite: /healthz's p99 3.0x idle at nice 19 alone, 1.6-1.9x with it)."""


Priority = tuple[int, int | None]
"""A thread's niceness and, on Linux, its scheduling policy."""


def _threads() -> list[int]:
    """This process's threads (Linux: ``/proc/self/task``); elsewhere the calling one (0)."""
    try:
        return [int(tid) for tid in os.listdir("/proc/self/task")]
    except OSError:
        return [0]


def _priority_of(tid: int) -> Priority:
    policy = os.sched_getscheduler(tid) if hasattr(os, "SCHED_IDLE") else None
    return os.getpriority(os.PRIO_PROCESS, tid), policy


def _set_priority(tid: int, priority: Priority) -> None:
    """Each part as far as permitted (raising a priority again may need privileges, and a
    thread may have ended meanwhile)."""
    nice, policy = priority
    if policy is not None:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(tid, policy, os.sched_param(0))
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, tid, nice)


class _Lowered:
    """The process-wide state of `_low_priority`: how many blocks are open, and what each
    thread was before the first of them (blocks may overlap when tasks run in threads)."""

    lock = threading.Lock()
    depth = 0
    before: dict[int, Priority] = {}
    starter: Priority = (0, None)


@contextlib.contextmanager
def _low_priority() -> Iterator[None]:
    """Every thread of this process at `NICENESS` and in the idle scheduling class while a
    block is open, then each back where it was before the first one opened; a thread started
    meanwhile as the first block's caller was.

    Linux keeps both per thread: lowering only the calling one left the database's own threads
    (aiosqlite runs each SQLite connection on one) at full priority when they existed before,
    and low for good when the block started them, for every later task on that connection.
    Blocks that overlap (tasks on threads of one process) lower once and restore once, when
    the last ends: each restoring what it saw would leave the process low."""
    with _Lowered.lock:
        _Lowered.depth += 1
        threads = _threads()
        if _Lowered.depth == 1:
            _Lowered.before = {}
            for tid in threads:
                with contextlib.suppress(OSError):
                    _Lowered.before[tid] = _priority_of(tid)
            _Lowered.starter = _priority_of(0)
        idle = os.SCHED_IDLE if hasattr(os, "SCHED_IDLE") else None
        for tid in threads:
            nice = _Lowered.before.get(tid, _Lowered.starter)[0]
            _set_priority(tid, (max(nice, NICENESS), idle))
    try:
        yield
    finally:
        with _Lowered.lock:
            _Lowered.depth -= 1
            if _Lowered.depth == 0:
                for tid in _threads():
                    _set_priority(tid, _Lowered.before.get(tid, _Lowered.starter))


@celery_app.task(name=backfill.PLAN_TASK, ignore_result=True)
def backfill_history(portfolio_id: str, benchmark: str = backfill.DEFAULT_BENCHMARK) -> int:
    """Send one `store_history` per batch of symbols whose closes the portfolio lacks; returns
    how many were sent (a portfolio gone or lacking nothing: none). Planned at `NICENESS`: it
    reads the whole ledger (a 100,000-row import's plan ran at full priority just as the
    import finished, and /healthz felt it), without the cycle collector."""
    process = runtime()
    with collector_paused(), _low_priority():
        planned = run_async(
            history.plan(
                process.readers, process.get(MarketData), uuid.UUID(portfolio_id), benchmark
            )
        )
    for windows in planned:
        send(backfill.STORE_TASK, history.dump(windows))
    log.info("history_planned", portfolio_id=portfolio_id, batches=len(planned))
    return len(planned)


@celery_app.task(name=backfill.STORE_TASK, ignore_result=True)
def store_history(windows: str) -> int:
    """Store the closes one batch lacks (safe to run twice: what is stored is not fetched), at
    `NICENESS`, without the cycle collector: a batch of 25 symbols' decade is about 63,000 bars,
    and the full collections they set off took a batch from 0.45 s of CPU to 0.73 now and then."""
    process = runtime()
    with collector_paused(), _low_priority():
        written = run_async(
            history.store(
                process.readers, process.sessions, process.get(MarketData), history.parse(windows)
            )
        )
    return sum(written.values())


IMPORT_RETRIES = 5


async def _import(job_id: uuid.UUID) -> str:
    process = runtime()
    return await import_jobs.run(process.sessions, process.get(MarketData), job_id)


async def _import_failed(job_id: uuid.UUID, problem: FlintError) -> str:
    async with runtime().sessions() as session:
        return await import_jobs.fail(session, job_id, problem)


@celery_app.task(name=import_jobs.TASK, bind=True, max_retries=IMPORT_RETRIES)
def import_file(self: Any, job_id: str) -> str:
    """Acked late (worker config): a worker that dies mid-way leaves the job to another, which
    imports it once (`import_jobs`). The database unreachable is retried with backoff. Run at
    `NICENESS`, without the cycle collector."""
    jid = uuid.UUID(job_id)
    try:
        with collector_paused(), _low_priority():
            return run_async(_import(jid))
    except Exception as exc:
        if database_unavailable(exc) and self.request.retries < IMPORT_RETRIES:
            log.warning("import_retry", job_id=job_id, error=repr(exc))
            raise self.retry(exc=exc, countdown=min(2**self.request.retries, 60)) from exc
        log.exception("import_crashed", job_id=job_id)
        problem = import_jobs.ImportFailed(
            f"The file could not be imported ({type(exc).__name__}; the error was logged). "
            "Nothing was added."
        )
        return run_async(_import_failed(jid, problem))


@celery_app.task(name=import_jobs.SWEEP_TASK)
def sweep_imports() -> int:
    """Every minute: publish again the imports left queued (a lost message) or running for
    long (a worker gone for good)."""

    async def _stale() -> list[uuid.UUID]:
        async with runtime().sessions() as session:
            return await import_jobs.stale(session)

    ids = run_async(_stale())
    for job_id in ids:
        send(import_jobs.TASK, str(job_id))
    return len(ids)
