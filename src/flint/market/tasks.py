"""Celery tasks of the market feature: thin wrappers around the service."""

from __future__ import annotations

import structlog

from flint.alerts.evaluation import evaluate_committed
from flint.db import commit
from flint.market import service
from flint.worker import celery_app, run_async, runtime

log = structlog.get_logger(__name__)


@celery_app.task(name="flint.market.refresh_quotes", ignore_result=True)
def refresh_quotes() -> int:
    """Refresh, store and cache the quotes of every watched symbol, in batches, and check the
    price alerts on each batch (in a transaction of their own: a failing check never loses the
    quotes)."""

    async def _run() -> int:
        settings = runtime.settings()
        market = runtime.market()
        sessionmaker = runtime.sessionmaker()
        async with sessionmaker() as session:
            symbols = await service.watched_symbols(session)
        refreshed = 0
        for batch in service.batches(symbols, service.REFRESH_BATCH):
            async with sessionmaker() as session:
                quotes = await market.refresh_quotes(session, batch)
                await commit(session)
            refreshed += len(quotes)
            try:
                await evaluate_committed(sessionmaker, quotes)
            except Exception:
                log.exception("alerts_evaluation_failed", symbols=len(quotes))
            if settings.redis_url and quotes:
                from flint.market.stream import publish_to_redis

                await publish_to_redis(settings, quotes)
        return refreshed

    return run_async(_run())
