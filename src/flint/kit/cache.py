"""The one cache: Redis when FLINT_REDIS_URL is set, in-process otherwise (cashews serves both).

Values are stored as JSON (never pickle), so a shared Redis cannot hand a process code to run.
"""

from __future__ import annotations

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


async def count_reads(call: Any, cmd: Command, backend: Backend, *args: Any, **kwargs: Any) -> Any:
    """A cashews middleware: every ``get`` counts a hit or a miss in ``flint_cache_lookups``,
    the reads of the ``@cache`` decorator included (it reads through this wrapper)."""
    if cmd is not Command.GET:
        return await call(*args, **kwargs)
    default = kwargs.get("default")
    kwargs["default"] = _MISSING
    value = await call(*args, **kwargs)
    hit = value is not _MISSING
    metrics.CACHE_LOOKUPS.labels(
        namespace(str(kwargs.get("key", ""))), "hit" if hit else "miss"
    ).inc()
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
