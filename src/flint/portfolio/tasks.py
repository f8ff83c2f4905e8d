"""Celery tasks of portfolios: store the closes a ledger's performance needs (`history`), planned
per portfolio and stored per batch of symbols."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import structlog

from flint.jobs import celery_app, run_async, runtime, send
from flint.market.api import MarketData
from flint.portfolio import backfill, history

log = structlog.get_logger(__name__)

NICENESS = 19
"""The CPU priority a batch is stored at: below the API and its performance processes (15),
so a fresh import's history never slows the requests asked meanwhile."""


@contextlib.contextmanager
def _low_priority() -> Iterator[None]:
    """This process at `NICENESS` for the block, then back where it was (when permitted:
    raising a priority again may need privileges, and without them it stays low)."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, max(before, NICENESS))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, before)


@celery_app.task(name=backfill.PLAN_TASK, ignore_result=True)
def backfill_history(portfolio_id: str, benchmark: str = backfill.DEFAULT_BENCHMARK) -> int:
    """Send one `store_history` per batch of symbols whose closes the portfolio lacks; returns
    how many were sent (a portfolio gone or lacking nothing: none)."""
    process = runtime()
    planned = run_async(
        history.plan(process.readers, process.get(MarketData), uuid.UUID(portfolio_id), benchmark)
    )
    for windows in planned:
        send(backfill.STORE_TASK, history.dump(windows))
    log.info("history_planned", portfolio_id=portfolio_id, batches=len(planned))
    return len(planned)


@celery_app.task(name=backfill.STORE_TASK, ignore_result=True)
def store_history(windows: str) -> int:
    """Store the closes one batch lacks (safe to run twice: what is stored is not fetched)."""
    process = runtime()
    with _low_priority():
        written = run_async(
            history.store(
                process.readers, process.sessions, process.get(MarketData), history.parse(windows)
            )
        )
    return sum(written.values())
