"""The one cache: Redis when FLINT_REDIS_URL is set, in-process otherwise (cashews serves both).

Values are stored as JSON (never pickle), so a shared Redis cannot hand a process code to run.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from cashews import Cache, Command
from cashews.backends.interface import Backend

from flint import metrics

_MISSING = object()


def namespace(key: str) -> str:
    """The metric label of a key: the part after ``flint:`` (``flint:quote:AAPL`` is
    ``quote``), so the label has as many values as Flint has kinds of key, not keys."""
    parts = key.split(":", 2)
    return parts[1] if len(parts) > 2 and parts[0] == "flint" else "other"


class Lookups:
    """The cache's hits and misses, gathered in process and written to ``flint_cache_lookups``
    at most `FLUSH_SECONDS` later (a timer on the loop that counted, every ``/metrics`` answer
    of the process, and the API's shutdown): writing the counter on every lookup (its label
    lookup and a locked write to the multiprocess file) cost about as much as the lookup, and a
    signed-in quote makes two."""

    FLUSH_SECONDS = 1.0

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()  # the test workers' loops run in threads of their own
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def count(self, key: str, hit: bool) -> None:
        counted = (namespace(key), "hit" if hit else "miss")
        with self._lock:
            self._counts[counted] = self._counts.get(counted, 0) + 1
        loop = asyncio.get_running_loop()
        if self._timer_loop is not loop:  # none due on this loop (a closed one's never runs)
            self._timer_loop = loop
            loop.call_later(self.FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write what was counted since the last flush to the metrics."""
        with self._lock:
            counts, self._counts = self._counts, {}
            self._timer_loop = None
        for (kind, result), times in counts.items():
            metrics.CACHE_LOOKUPS.labels(kind, result).inc(times)


LOOKUPS = Lookups()


async def count_reads(call: Any, cmd: Command, backend: Backend, *args: Any, **kwargs: Any) -> Any:
    """A cashews middleware: every ``get`` counts a hit or a miss (`LOOKUPS`), the reads of the
    ``@cache`` decorator included (it reads through this wrapper)."""
    if cmd is not Command.GET:
        return await call(*args, **kwargs)
    default = kwargs.get("default")
    kwargs["default"] = _MISSING
    value = await call(*args, **kwargs)
    hit = value is not _MISSING
    LOOKUPS.count(str(kwargs.get("key", "")), hit)
    return value if hit else default


def create_cache(redis_url: str | None) -> Cache:
    """Keys are namespaced by their users (`flint:quote:AAPL`), so one Redis can be shared."""
    cache = Cache()
    if redis_url:
        separator = "&" if "?" in redis_url else "?"
        cache.setup(f"{redis_url}{separator}pickle_type=json")
    else:
        cache.setup("mem://?size=100000")
    cache.add_middleware(count_reads)
    return cache
