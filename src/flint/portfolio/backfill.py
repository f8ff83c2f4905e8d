"""Starting the background storage of a portfolio's daily closes (`history` does the work, in
the tasks of `flint.portfolio.tasks`).

A ledger write (an import, added transactions, new lots, a followed account's mirror) calls
`start`, which sends ``flint.portfolio.backfill_history`` once the transaction has committed.
A performance request that finds many closes missing long after the last ledger change (the
task lost, or a history older than this feature) sends it again (`request`), at most once a
minute per portfolio and benchmark.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from cashews import Cache
from sqlalchemy.ext.asyncio import AsyncSession

from flint.jobs import enqueue, send_async
from flint.kit.time import utcnow
from flint.portfolio.models import Portfolio

PLAN_TASK = "flint.portfolio.backfill_history"
STORE_TASK = "flint.portfolio.store_history"
DEFAULT_BENCHMARK = "SPY"
"""The benchmark a ledger write backfills with (the performance route's default)."""
RESEND_AFTER = timedelta(minutes=1)
"""How long after a ledger change (whose task is on its way) a performance request that finds
closes missing sends the task again, and how often at most."""


def start(session: AsyncSession, portfolio_id: uuid.UUID) -> None:
    """Store the closes the portfolio's ledger needs, in the background, once ``session``
    commits (never if it rolls back)."""
    enqueue(session, PLAN_TASK, str(portfolio_id), DEFAULT_BENCHMARK)


async def request(cache: Cache, portfolio: Portfolio, benchmark: str) -> None:
    """A performance request found closes missing: send the task again unless the ledger
    changed less than `RESEND_AFTER` ago (its own task is on its way) or this was done less
    than that ago."""
    if utcnow() - portfolio.updated_at < RESEND_AFTER:
        return
    key = f"flint:history:requested:{portfolio.id}:{benchmark}"
    if await cache.set(key, "1", expire=RESEND_AFTER.total_seconds(), exist=False):
        await send_async(PLAN_TASK, str(portfolio.id), benchmark)
