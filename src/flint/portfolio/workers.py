"""Performance computed in worker processes, so the API's event loop only waits.

Valuing a decade of 500 holdings is CPU work for a few hundred milliseconds; in a thread of the
API process it would hold the GIL that every other request needs (``/healthz`` included). The
API therefore keeps a small `ProcessPoolExecutor` (``FLINT_PERFORMANCE_WORKERS`` processes,
started with ``spawn``, at a lower CPU priority than the API). Each process opens its own
engine on the same database and reads the ledger and the stored closes itself
(`performance.load`), keeps the closes it has read in memory (`flint.portfolio.prices`),
computes, and hands back the JSON bytes the API sends as they are.

A worker never calls a market data provider: when storage lacks closes it raises
`performance.HistoryMissing`, the API fetches and commits them, and asks again.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cache
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flint.db import READ_ONLY, create_engine, create_sessionmaker
from flint.errors import NotFound
from flint.market.providers.types import Instrument
from flint.market.universe import Universe, load_universe
from flint.portfolio import performance, service
from flint.portfolio.models import Portfolio

log = structlog.get_logger(__name__)

NICENESS = 15
"""How much lower than the API's the workers' CPU priority is."""
PARENT_CHECK_SECONDS = 1.0


class _Universe:
    """`performance.Instruments` from the packaged universe (what `MarketData` answers too)."""

    def __init__(self, universe: Universe) -> None:
        self.universe = universe

    def instrument(self, symbol: str) -> Instrument | None:
        return self.universe.get(symbol)


# --- inside a worker process -------------------------------------------------------------------
_loop: asyncio.AbstractEventLoop | None = None
_engine: AsyncEngine | None = None
_sessions: async_sessionmaker[AsyncSession] | None = None


def _start(database_url: str) -> None:
    """Process initializer: lower priority, one event loop and one engine for its lifetime,
    and an end when the API process is gone (even killed, with no time to say so)."""
    global _loop, _engine, _sessions
    threading.Thread(target=_follow_parent, args=(os.getppid(),), daemon=True).start()
    with contextlib.suppress(OSError):  # not permitted here: run at the same priority
        os.nice(NICENESS)
    _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    # Reading only: on SQLite a deferred transaction, which never waits for the API's writers.
    _engine = create_engine(database_url).execution_options(**READ_ONLY)
    _sessions = create_sessionmaker(_engine)


def _follow_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


@cache
def _instruments() -> _Universe:
    return _Universe(load_universe())


def _ready() -> int:
    """Warm-up call: imports done, universe read, a database connection open in the pool."""
    assert _loop is not None
    _instruments()
    _loop.run_until_complete(_connect())
    return os.getpid()


async def _connect() -> None:
    assert _engine is not None
    async with _engine.connect():
        pass


def _compute(portfolio_id: uuid.UUID, window: performance.Window, complete: bool) -> bytes:
    assert _loop is not None
    return _loop.run_until_complete(_render(portfolio_id, window, complete))


async def _render(portfolio_id: uuid.UUID, window: performance.Window, complete: bool) -> bytes:
    assert _sessions is not None
    async with _sessions() as session:
        portfolio = await session.get(Portfolio, portfolio_id)
        if portfolio is None:  # deleted since the API read it: the API answers 404
            raise NotFound(f"No portfolio {portfolio_id}.")
        ledger = await service.ledger(session, portfolio)
        got = await performance.load(
            session, _instruments(), portfolio, ledger, window, complete=complete
        )
    return performance.to_json(got, window, portfolio.base_currency)


# --- in the API process ------------------------------------------------------------------------
class PerformancePool:
    """The API's side: submits computations to the worker processes (`performance.Computer`)."""

    def __init__(self, database_url: str, workers: int) -> None:
        self.database_url = database_url
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self.database_url,),
            )
        return self._pool

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        executor = self._executor()
        try:
            return await loop.run_in_executor(executor, fn, *args)
        except BrokenProcessPool:  # a worker died (killed, out of memory): start afresh once
            log.warning("performance_pool_broken")
            if self._pool is executor:  # not already replaced by a request that met it too
                self._discard()
            return await loop.run_in_executor(self._executor(), fn, *args)

    async def warm(self) -> None:
        """Start every worker process now, so the first request does not wait for them (a
        failure is logged: the first request will meet it again and answer it)."""
        try:
            await asyncio.gather(*(self._run(_ready) for _ in range(self.workers)))
        except Exception:
            log.exception("performance_pool_warm_failed")

    async def compute(
        self, portfolio_id: uuid.UUID, window: performance.Window, *, complete: bool
    ) -> bytes:
        answer: bytes = await self._run(_compute, portfolio_id, window, complete)
        return answer

    def _discard(self, *, wait: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes and wait for them (a computation under way finishes first)."""
        self._discard(wait=True)
