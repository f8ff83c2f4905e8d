"""Celery tasks of trading: submit a trade once, follow open orders, sweep up the lost."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Any

from flint.db import commit
from flint.jobs import celery_app, run_async, runtime
from flint.kit.vendor_errors import ProviderError
from flint.trades import orders
from flint.trades.context import TradingContext
from flint.trades.service import SUBMIT

MAX_SUBMIT_RETRIES = 8


def _context() -> TradingContext:
    return runtime().get(TradingContext)


@celery_app.task(name=SUBMIT, bind=True, max_retries=MAX_SUBMIT_RETRIES)
def submit(self: Any, trade_id: str) -> str:
    """Acked late (worker config): a worker that dies mid-way leaves the job to another, which
    asks the provider for the order before placing anything."""

    async def _run() -> str:
        async with runtime().sessions() as session:
            status = await orders.submit(session, _context(), uuid.UUID(trade_id))
            await commit(session)
            return status

    async def _give_up(reason: str) -> None:
        async with runtime().sessions() as session:
            await orders.give_up(session, uuid.UUID(trade_id), reason)
            await commit(session)

    try:
        return run_async(_run())
    except ProviderError as exc:
        if self.request.retries >= MAX_SUBMIT_RETRIES:
            run_async(_give_up(f"the provider stayed unavailable: {exc.reason}"))
            return "given_up"
        countdown: float = min(2**self.request.retries, 60)
        if isinstance(exc, orders.StillSending) and exc.retry_after is not None:
            countdown = math.ceil(exc.retry_after)  # asked again as the window closes
        raise self.retry(exc=exc, countdown=countdown) from exc


@celery_app.task(name="flint.trades.refresh")
def refresh(trade_id: str) -> str:
    async def _run() -> str:
        async with runtime().sessions() as session:
            status = await orders.refresh(session, _context(), uuid.UUID(trade_id))
            await commit(session)
            return status

    return run_async(_run())


@celery_app.task(name="flint.trades.resolve")
def resolve(trade_id: str) -> str:
    async def _run() -> str:
        async with runtime().sessions() as session:
            status = await orders.resolve(session, _context(), uuid.UUID(trade_id))
            await commit(session)
            return status

    return run_async(_run())


@celery_app.task(name="flint.trades.sweep")
def sweep() -> dict[str, int]:
    """Every half minute: publish pending trades nobody took again, ask the provider about
    every open order (resting limit and stop orders fill, expire or get canceled), and about
    every trade whose placement it could not confirm."""

    async def _run() -> tuple[list[uuid.UUID], list[uuid.UUID], list[uuid.UUID]]:
        async with runtime().sessions() as session:
            lost = await orders.stale(session, timedelta(minutes=2))
            open_ = await orders.open_trades(session)
            unknown = await orders.unknown_trades(session)
            return lost, open_, unknown

    lost, open_, unknown = run_async(_run())
    for trade_id in lost:
        submit.delay(str(trade_id))
    for trade_id in open_:
        refresh.delay(str(trade_id))
    for trade_id in unknown:
        resolve.delay(str(trade_id))
    return {"resubmitted": len(lost), "refreshed": len(open_), "resolving": len(unknown)}
