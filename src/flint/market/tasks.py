"""Celery tasks of the market feature: thin wrappers around the service."""

from __future__ import annotations

import structlog

from flint.db import commit
from flint.jobs import celery_app, run_async, runtime
from flint.market import service
from flint.market.feed import QuoteFeed
from flint.market.service import MarketData

log = structlog.get_logger(__name__)


@celery_app.task(name="flint.market.refresh_quotes", ignore_result=True)
def refresh_quotes() -> int:
    """Refresh, store and cache the quotes of every watched symbol, in batches, and hand each
    batch to the quote listeners (price alerts; in transactions of their own: a failing
    listener never loses the quotes)."""

    async def _run() -> int:
        process = runtime()
        settings = process.settings
        market = process.get(MarketData)
        feed = process.get(QuoteFeed)
        async with process.sessions() as session:
            symbols = await feed.watched(session)
        refreshed = 0
        for batch in service.batches(symbols, service.REFRESH_BATCH):
            async with process.sessions() as session:
                quotes = await market.refresh_quotes(session, batch)
                await commit(session)
            refreshed += len(quotes)
            await feed.tell(quotes)
            if settings.redis_url and quotes:
                from flint.market.stream import publish_to_redis

                await publish_to_redis(settings, quotes)
        return refreshed

    return run_async(_run())
