"""Where rate-limit counters live (the `limits` library): Redis when configured, so every
process shares one count, in-process memory otherwise.

Every counter Flint keeps (the API limits, the login throttle, the password-reset limits, the
two-factor failure budget) goes through `make_storage`. With Redis configured it is a
`FallbackStorage`: when Redis fails, the counts go on in this process's memory (the effective
limit is then per process) instead of failing the request, and they go back to Redis once it
answers again. `limits` itself has no such fallback (Flask-Limiter's `in_memory_fallback` is
Flask's), hence this small wrapper.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from limits.aio.storage import (
    MemoryStorage,
    MovingWindowSupport,
    SlidingWindowCounterSupport,
    Storage,
)
from limits.storage import storage_from_string

from flint.metrics import RATE_LIMIT_FALLBACKS as FALLBACKS
from flint.metrics import RATE_LIMIT_IN_FALLBACK as IN_FALLBACK

T = TypeVar("T")

LOGGER = "flint.ratelimit"
"""Its logger is looked up at each (rare) transition, so it logs to the current configuration."""

RETRY_SECONDS = 5.0
"""While Redis is down, how often one operation tries it again (the others go straight to
memory, so a dead Redis costs no connection attempt per request)."""


class FallbackStorage(Storage, MovingWindowSupport, SlidingWindowCounterSupport):
    """``primary`` (Redis) while it answers; per-process memory while it raises.

    One log line and one count per transition, never one per request. Counts made in memory
    are not copied to Redis when it returns: a window's count restarts from what Redis held.
    """

    STORAGE_SCHEME = None

    def __init__(
        self,
        primary: Storage,
        *,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        assert isinstance(primary, MovingWindowSupport)
        assert isinstance(primary, SlidingWindowCounterSupport)
        self.primary = primary
        self.memory = MemoryStorage()
        self._errors: tuple[type[Exception], ...] = (
            *_as_tuple(primary.base_exceptions),
            OSError,  # refused or reset connections, timeouts (TimeoutError is one)
        )
        self._retry = retry_seconds
        self._clock = clock
        self._down = False
        self._next_try = 0.0

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return ()  # nothing of Redis's leaves this storage

    @property
    def in_fallback(self) -> bool:
        return self._down

    async def _run(self, call: Callable[[Any], Awaitable[T]]) -> T:
        if not self._down or self._clock() >= self._next_try:
            try:
                result = await call(self.primary)
            except self._errors as exc:
                self._fall_back(exc)
            else:
                if self._down:
                    self._down = False
                    IN_FALLBACK.set(0)
                    structlog.get_logger(LOGGER).warning("rate limits back on Redis")
                return result
        return await call(self.memory)

    def _fall_back(self, exc: Exception) -> None:
        self._next_try = self._clock() + self._retry
        if self._down:
            return
        self._down = True
        FALLBACKS.inc()
        IN_FALLBACK.set(1)
        structlog.get_logger(LOGGER).warning(
            "rate limits fall back to process memory: Redis fails",
            error=f"{type(exc).__name__}: {exc}",
            retry_seconds=self._retry,
        )

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return await self._run(lambda s: s.incr(key, expiry, amount))

    async def get(self, key: str) -> int:
        return await self._run(lambda s: s.get(key))

    async def get_expiry(self, key: str) -> float:
        return await self._run(lambda s: s.get_expiry(key))

    async def check(self) -> bool:
        return bool(await self.primary.check())

    async def reset(self) -> int | None:
        await self.memory.reset()
        return await self._run(lambda s: s.reset())

    async def clear(self, key: str) -> None:
        await self._run(lambda s: s.clear(key))

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        return await self._run(lambda s: s.acquire_entry(key, limit, expiry, amount))

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        return await self._run(lambda s: s.get_moving_window(key, limit, expiry))

    async def acquire_sliding_window_entry(
        self, key: str, limit: int, expiry: int, amount: int = 1
    ) -> bool:
        return await self._run(lambda s: s.acquire_sliding_window_entry(key, limit, expiry, amount))

    async def get_sliding_window(self, key: str, expiry: int) -> tuple[int, float, int, float]:
        return await self._run(lambda s: s.get_sliding_window(key, expiry))

    async def clear_sliding_window(self, key: str, expiry: int) -> None:
        await self._run(lambda s: s.clear_sliding_window(key, expiry))


def _as_tuple(
    errors: type[Exception] | tuple[type[Exception], ...],
) -> tuple[type[Exception], ...]:
    return errors if isinstance(errors, tuple) else (errors,)


def make_storage(redis_url: str | None, *, namespace: str = "LIMITS") -> Storage:
    """Redis shares the counts across processes (keys under ``namespace``, so deployments can
    share one Redis) and falls back to memory while it fails; without Redis, memory is per
    process (embedded default)."""
    if redis_url:
        redis = storage_from_string(f"async+{redis_url}", key_prefix=namespace)
        assert isinstance(redis, Storage)
        return FallbackStorage(redis)
    return MemoryStorage()
