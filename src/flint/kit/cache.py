"""The one cache: Redis when FLINT_REDIS_URL is set, in-process otherwise (cashews serves both).

Values are stored as JSON (never pickle), so a shared Redis cannot hand a process code to run.
"""

from __future__ import annotations

from cashews import Cache


def create_cache(redis_url: str | None) -> Cache:
    """Keys are namespaced by their users (`flint:quote:AAPL`), so one Redis can be shared."""
    cache = Cache()
    if redis_url:
        separator = "&" if "?" in redis_url else "?"
        cache.setup(f"{redis_url}{separator}pickle_type=json")
    else:
        cache.setup("mem://?size=100000")
    return cache
