"""Where a portfolio's performance is computed, and the one path every request takes to it.

`PerformanceService.json` answers the API's JSON bytes through the cache (per ledger version
and day). A `Computer` makes them: in worker processes (`workers.PerformancePool`, so the event
loop only waits) or in this process, off the loop (`InProcess`). Both read only what is
committed, through a read-only session of their own, and neither calls a market-data provider:
when storage lacks closes they answer `Lacking`. A few missing closes (at most
``inline_bars``: a benchmark asked for the first time, a day's new close) the service fetches
and stores in a short transaction of its own (the request's own stays read-only and holds no
lock) and asks again, valuing with what there is if a provider has none. More than that is a
fresh import's history, which `history` stores in the background (`backfill`): the service
answers at once from what is stored, with a ``dataStatus`` naming what is missing, and caches
that answer for ``PARTIAL_SECONDS``; after that the next request gets it again at once while
a new one is computed in the background (stale while revalidating). A partial answer is not
kept for its moment once storage has been written for every symbol it lacked (their write
tokens have all moved): the history has just been stored, and the complete answer is computed
at once instead of a second later.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Protocol
from weakref import WeakValueDictionary

import anyio
import structlog
from cashews import Cache
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.db import commit
from flint.errors import NotFound, ServiceUnavailable
from flint.kit.time import utcnow
from flint.market.api import Interval, MarketData, write_tokens
from flint.portfolio import backfill, pages
from flint.portfolio.figure_schemas import GroupBy
from flint.portfolio.figures import to_json
from flint.portfolio.models import Portfolio
from flint.portfolio.performance import Inputs, Lacking, Window, check_window, load
from flint.portfolio.performance_schemas import DataStatus
from flint.portfolio.symbols import Instruments

log = structlog.get_logger(__name__)

CACHE_SECONDS = 600
PARTIAL_SECONDS = 1.0
"""How long an answer from part of the history is served as it is, at least: a client polling
during an import meets it instead of a new computation every time (each one takes a performance
process from the batches being stored)."""
PARTIAL_COST_TIMES = 4.0
"""...and at least this many times as long as computing it took, so the answers computed again
while the history is stored take at most about a fifth of a performance process however large
the portfolio (a decade of 500 symbols, in `make bench`: 0.6-1.2 s each while the batches run,
three of them in ten seconds where one a second took a third of the machine's CPU)."""
STALE_SECONDS = 120
"""How long an answer from part of the history stays at hand once `PARTIAL_SECONDS` have
passed: the next request is answered with it at once while the answer is computed again in the
background, so no poll waits for a computation slowed by the batches being stored."""


class OverBudget(ServiceUnavailable):
    """A computation ran past its time budget and was stopped."""

    title, slug = "Computation over budget", "performance-budget"

    @classmethod
    def after(cls, seconds: float) -> OverBudget:
        return cls(
            f"Computing this portfolio's performance took longer than its {seconds:g} s "
            "budget and was stopped; ask for a shorter window (start, end), or try later."
        )


class Computer(Protocol):
    """Computes a portfolio's performance away from the event loop and answers the JSON
    bytes, or (when ``complete``) what storage lacks; NotFound for a portfolio gone
    meanwhile."""

    async def compute(
        self,
        portfolio_id: uuid.UUID,
        window: Window,
        *,
        complete: bool,
        partial_above: int | None = None,
    ) -> bytes | Lacking | Partial: ...


@dataclass(frozen=True)
class Partial:
    """The answer from what is stored, when storage lacks more than ``partial_above`` closes
    (`history` is storing them): with its ``dataStatus``, cached only for moments."""

    lacking: Lacking
    body: bytes


def status_of(lacking: Lacking) -> DataStatus:
    return DataStatus(
        complete=False,
        missing_symbols=sorted(lacking.windows),
        progress=round(lacking.progress, 4),
    )


async def read_answer(
    session: AsyncSession,
    instruments: Instruments,
    portfolio_id: uuid.UUID,
    window: Window,
    *,
    complete: bool,
    partial_above: int | None,
) -> tuple[Inputs, str, Lacking | None] | Lacking:
    """What to compute the answer from, read (only) in ``session``: the inputs and the base
    currency, with what storage lacks when that is more than ``partial_above`` closes (the
    inputs are then what is stored); or, lacking fewer, `Lacking` alone."""
    got, base = await read_inputs(
        session, instruments, portfolio_id, window, complete=complete, partial_above=partial_above
    )
    if isinstance(got, Lacking):
        return got
    return got, base, got.lacking


def render(got: Inputs, window: Window, base: str, lacking: Lacking | None) -> bytes | Partial:
    """The JSON bytes (CPU work), or a `Partial` when closes are missing."""
    if lacking is None:
        return to_json(got, window, base)
    return Partial(lacking, to_json(got, window, base, status_of(lacking)))


async def read_inputs(
    session: AsyncSession,
    instruments: Instruments,
    portfolio_id: uuid.UUID,
    window: Window,
    *,
    complete: bool,
    partial_above: int | None = None,
) -> tuple[Inputs | Lacking, str]:
    """The inputs (or what storage lacks) and the base currency, read (only) in ``session``
    (`load`)."""
    portfolio = await session.get(Portfolio, portfolio_id)
    if portfolio is None:  # deleted since the API read it: the API answers 404
        raise NotFound(f"No portfolio {portfolio_id}.")
    ledger = await pages.at_once(session, portfolio.id)
    got = await load(
        session,
        instruments,
        portfolio,
        ledger,
        window,
        complete=complete,
        partial_above=partial_above,
    )
    return got, portfolio.base_currency


@dataclass(frozen=True)
class InProcess:
    """Reads on the event loop and computes in a thread of this process (a worker, or an API
    started with ``FLINT_PERFORMANCE_WORKERS=0``)."""

    readers: async_sessionmaker[AsyncSession]
    instruments: Instruments
    budget: float | None = None
    """Bounds the wait only: a thread cannot be stopped (the pool's processes can)."""

    async def compute(
        self,
        portfolio_id: uuid.UUID,
        window: Window,
        *,
        complete: bool,
        partial_above: int | None = None,
    ) -> bytes | Lacking | Partial:
        try:
            with anyio.fail_after(self.budget):
                async with self.readers() as session:
                    got = await read_answer(
                        session,
                        self.instruments,
                        portfolio_id,
                        window,
                        complete=complete,
                        partial_above=partial_above,
                    )
                if isinstance(got, Lacking):
                    return got
                inputs, base, lacking = got
                return await anyio.to_thread.run_sync(
                    render, inputs, window, base, lacking, abandon_on_cancel=True
                )
        except TimeoutError as exc:
            raise OverBudget.after(self.budget or 0) from exc


@dataclass(frozen=True)
class PerformanceService:
    """Each user has at most one computation under way (further requests of theirs wait their
    turn here, in the API, and find the first one's answer in the cache when they ask the
    same): one user's many or slow requests can take at most one worker, for at most its time
    budget, from everyone else."""

    market: MarketData
    cache: Cache
    computer: Computer
    sessions: async_sessionmaker[AsyncSession]
    """Writable sessions, for the closes a computation lacks."""
    readers: async_sessionmaker[AsyncSession]
    """Read-only sessions, for the write tokens a partial answer waits on."""
    risk_free: float
    turns: WeakValueDictionary[uuid.UUID, asyncio.Lock] = field(default_factory=WeakValueDictionary)
    inline_bars: int = 10_000
    """At most this many missing closes are fetched while the request waits (more: `history`
    stores them in the background and the answer says what is missing)."""
    refreshing: dict[str, asyncio.Task[bytes]] = field(default_factory=dict)
    """The answers from part of the history being computed again in the background, by key."""

    def window(
        self, start: date | None, end: date | None, benchmark: str, group_by: GroupBy = "symbol"
    ) -> Window:
        return Window(start, end or utcnow().date(), benchmark, self.risk_free, group_by)

    async def json(self, portfolio: Portfolio, window: Window) -> bytes:
        """The performance as the API's JSON bytes, from the cache or computed."""
        check_window(self.market, window)
        key = cache_key(portfolio, window)
        hit = await self.cache.get(key)
        if isinstance(hit, str):
            if not await self._history_arrived(key):
                return hit.encode()
            await self.cache.delete(key)  # a partial answer whose history is stored now
        stale = await self.cache.get(_stale(key))
        if isinstance(stale, str):  # an import's history is being stored: answer at once
            if key not in self.refreshing:
                task = asyncio.create_task(self._turn(portfolio, window, key))
                self.refreshing[key] = task
                task.add_done_callback(partial(self._refreshed, key))
            return stale.encode()
        return await self._turn(portfolio, window, key)

    async def _turn(self, portfolio: Portfolio, window: Window, key: str) -> bytes:
        turn = self.turns.setdefault(portfolio.user_id, asyncio.Lock())
        async with turn:
            hit = await self.cache.get(key)
            if isinstance(hit, str):  # computed while this request waited its turn
                return hit.encode()
            return await self._compute(portfolio, window, key)

    async def _compute(self, portfolio: Portfolio, window: Window, key: str) -> bytes:
        started = time.monotonic()
        answer = await self.computer.compute(
            portfolio.id, window, complete=True, partial_above=self.inline_bars
        )
        if isinstance(answer, Partial):  # `history` stores the rest meanwhile
            fresh = max(PARTIAL_SECONDS, PARTIAL_COST_TIMES * (time.monotonic() - started))
            await backfill.request(self.cache, portfolio, window.benchmark)
            body = answer.body.decode()
            tokens = json.dumps(answer.lacking.tokens)
            await self.cache.set(_awaited(key), tokens, expire=STALE_SECONDS)
            await self.cache.set(key, body, expire=fresh)
            await self.cache.set(_stale(key), body, expire=STALE_SECONDS)
            return answer.body
        if isinstance(answer, Lacking):
            async with self.sessions() as session:
                await self.market.backfill_windows(session, answer.windows)
                await commit(session)
            answer = await self.computer.compute(portfolio.id, window, complete=False)
        assert isinstance(answer, bytes)  # only a complete computation can lack anything
        # As text: the cache keeps JSON values, which bytes are not.
        await self.cache.set(key, answer.decode(), expire=CACHE_SECONDS)
        await self.cache.delete(_stale(key))
        await self.cache.delete(_awaited(key))
        return answer

    async def _history_arrived(self, key: str) -> bool:
        """Whether ``key`` holds a partial answer and bars have been written since for every
        symbol it lacked (one small read of their write tokens; a symbol no provider serves
        never moves, and its answer is then computed again as `PARTIAL_SECONDS` say)."""
        awaited = await self.cache.get(_awaited(key))
        if not isinstance(awaited, str):
            return False
        tokens: dict[str, str] = json.loads(awaited)
        async with self.readers() as session:
            now = await write_tokens(session, list(tokens), Interval.D1)
        if any(now.get(symbol, "") == token for symbol, token in tokens.items()):
            return False
        await self.cache.delete(_awaited(key))
        return True

    def _refreshed(self, key: str, task: asyncio.Task[bytes]) -> None:
        self.refreshing.pop(key, None)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("performance_refresh_failed", key=key, error=repr(error))

    async def close(self) -> None:
        """Stop the computations under way in the background (shutdown)."""
        tasks = list(self.refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _stale(key: str) -> str:
    return f"{key}:partial"


def _awaited(key: str) -> str:
    return f"{key}:awaited"


def cache_key(portfolio: Portfolio, window: Window) -> str:
    """Per ledger version, window and day (the closes of a new day change the figures)."""
    return (
        f"flint:performance:{portfolio.id}:{portfolio.version}:{window.start}:{window.end}:"
        f"{window.benchmark}:{window.risk_free}:{window.group_by}:{utcnow().date()}"
    )
