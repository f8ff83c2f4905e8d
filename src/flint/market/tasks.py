"""Celery tasks of the market feature: thin wrappers around the service."""

from __future__ import annotations

from flint.db import commit
from flint.market import service
from flint.worker import celery_app, run_async, runtime


@celery_app.task(name="flint.market.refresh_quotes", ignore_result=True)
def refresh_quotes() -> int:
    """Refresh, store and cache the quotes of every watched symbol, in batches."""

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
            if settings.redis_url and quotes:
                from flint.market.stream import publish_to_redis

                await publish_to_redis(settings, quotes)
        return refreshed

    return run_async(_run())
