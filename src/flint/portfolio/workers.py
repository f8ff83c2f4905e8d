"""Performance computed in worker processes, so the API's event loop only waits.

Valuing a decade of 500 holdings is CPU work for a few hundred milliseconds; in a thread of the
API process it would hold the GIL that every other request needs (``/healthz`` included). The
API therefore keeps a small `pebble` process pool (``FLINT_PERFORMANCE_WORKERS`` processes,
forked from a server process that imported Flint once, `start_method`, at a lower CPU priority
than the API). Each process builds its own runtime (the composition root's ``performance``
role: a read-only engine on the same database and the packaged instruments), reads the ledger
and the stored closes itself (`computing.read_answer`), keeps the closes it has read in memory
(`flint.portfolio.prices`), computes, and hands back the JSON bytes the API sends as they are.
It is a `computing.Computer`: what happens when closes are missing is `computing`'s business.

Each computation has a time budget (``FLINT_PERFORMANCE_BUDGET_SECONDS``): the pool is
`pebble`'s, which stops the one process still computing past it and starts another, so a
runaway computation frees its worker instead of holding every later request up, and the request
answers 503 (`computing.OverBudget`).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import structlog
from pebble import ProcessExpired, ProcessPool

from flint.portfolio.computing import OverBudget, Partial, read_answer, render
from flint.portfolio.performance import Lacking, Window
from flint.portfolio.symbols import Instruments
from flint.runtime import Runtime

log = structlog.get_logger(__name__)

PARENT_CHECK_SECONDS = 1.0
CLOSE_SECONDS = 30.0
"""How long closing waits for the computations under way before stopping them."""


# --- inside a worker process -------------------------------------------------------------------
_loop: asyncio.AbstractEventLoop | None = None
_runtime: Runtime | None = None


def _start(build: Callable[[], Runtime], niceness: int) -> None:
    """Process initializer: lower priority, one event loop and one runtime for its lifetime,
    and an end when the API process is gone (even killed, with no time to say so)."""
    global _loop, _runtime
    # Ctrl-C reaches every process of the terminal's group: the API stops this pool itself
    # (a KeyboardInterrupt here printed a traceback in the middle of the API's shutdown).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_follow_parent, args=(os.getppid(),), daemon=True).start()
    lower(niceness)
    _loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_loop)
    _runtime = build()


def lower(niceness: int) -> None:
    """This process `niceness` below where it was and, unless that is 0, in Linux's idle
    scheduling class: at nice 15 alone, a computation that held a core delayed the API's next
    request until its time slice ended (measured once: `/healthz`'s p99, 1.2 ms idle, was 3.3 ms
    while cold performance requests ran, 2.1 ms with the processes in the idle class). Either
    part is skipped where it is not permitted or does not exist."""
    with contextlib.suppress(OSError):
        os.nice(niceness)
    if niceness > 0 and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def _follow_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _ready() -> int:
    """Warm-up call: imports done, instruments read, a database connection open in the pool."""
    assert _loop is not None
    assert _runtime is not None
    _runtime.get(Instruments)
    _loop.run_until_complete(_connect())
    return os.getpid()


async def _connect() -> None:
    assert _runtime is not None
    async with _runtime.engine.connect():
        pass


def _compute(
    portfolio_id: uuid.UUID, window: Window, complete: bool, partial_above: int | None
) -> bytes | Lacking | Partial:
    assert _loop is not None
    return _loop.run_until_complete(_render(portfolio_id, window, complete, partial_above))


async def _render(
    portfolio_id: uuid.UUID, window: Window, complete: bool, partial_above: int | None
) -> bytes | Lacking | Partial:
    assert _runtime is not None
    instruments = _runtime.get(Instruments)
    async with _runtime.sessions() as session:
        got = await read_answer(
            session,
            instruments,
            portfolio_id,
            window,
            complete=complete,
            partial_above=partial_above,
        )
    if isinstance(got, Lacking):
        return got
    inputs, base, lacking = got
    return render(inputs, window, base, lacking)


# --- in the API process ------------------------------------------------------------------------
def start_method() -> multiprocessing.context.BaseContext:
    """How the worker processes start: forked from a server process that has imported this
    module once (``forkserver``, where the platform has it), else each a fresh interpreter
    (``spawn``). Never forked from the API itself, whose threads and open connections a child
    must not inherit. A fresh interpreter imported Flint for 1.1-1.4 s of CPU at every start,
    so a worker stopped over its budget or killed left the next computation waiting that long
    for its replacement; forked from the server, a replacement is ready in milliseconds, and
    two or more workers share the imported modules' memory."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


class PerformancePool:
    """The API's side: submits computations to the worker processes (a `computing.Computer`).
    ``build`` makes a process's runtime: it is pickled to each process, so a module-level
    function or a `functools.partial` of one. ``budget`` bounds each computation (seconds);
    ``niceness`` lowers the processes' CPU priority below the API's
    (``FLINT_PERFORMANCE_NICENESS``; `lower`)."""

    def __init__(
        self,
        workers: int,
        build: Callable[[], Runtime],
        *,
        niceness: int,
        budget: float | None = None,
    ) -> None:
        self.workers = workers
        self.build = build
        self.budget = budget
        self.niceness = niceness
        self._pool: ProcessPool | None = None

    def _executor(self) -> ProcessPool:
        if self._pool is not None and not self._pool.active:  # an idle worker died: broken
            log.warning("performance_pool_broken")
            pool, self._pool = self._pool, None
            pool.stop()  # type: ignore[no-untyped-call]
        if self._pool is None:
            self._pool = ProcessPool(
                max_workers=self.workers,
                context=start_method(),
                initializer=_start,
                initargs=(self.build, self.niceness),
            )
        return self._pool

    async def _submit(self, fn: Any, *args: Any) -> Any:
        future = self._executor().schedule(fn, args=args, timeout=self.budget)
        return await asyncio.wrap_future(future)

    async def _run(self, fn: Any, *args: Any) -> Any:
        try:
            return await self._submit(fn, *args)
        except (ProcessExpired, BrokenProcessPool):  # a worker died (killed, out of memory)
            log.warning("performance_worker_died")
            return await self._submit(fn, *args)  # on its replacement, or a new pool

    async def warm(self) -> None:
        """Start every worker process now, so the first request does not wait for them (a
        failure is logged: the first request will meet it again and answer it)."""
        try:
            await asyncio.gather(*(self._run(_ready) for _ in range(self.workers)))
        except Exception:
            log.exception("performance_pool_warm_failed")

    async def compute(
        self,
        portfolio_id: uuid.UUID,
        window: Window,
        *,
        complete: bool,
        partial_above: int | None = None,
    ) -> bytes | Lacking | Partial:
        try:
            answer: bytes | Lacking | Partial = await self._run(
                _compute, portfolio_id, window, complete, partial_above
            )
        except FuturesTimeout as exc:  # pebble stopped the worker and starts another
            log.warning("performance_over_budget", portfolio_id=str(portfolio_id))
            raise OverBudget.after(self.budget or 0) from exc
        return answer

    def close(self) -> None:
        """Stop the processes and wait for them (a computation under way finishes first, for
        up to `CLOSE_SECONDS`)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        pool.close()  # type: ignore[no-untyped-call]
        try:
            pool.join(timeout=CLOSE_SECONDS)
        except TimeoutError:  # still computing: stop it
            pool.stop()  # type: ignore[no-untyped-call]
            pool.join()
