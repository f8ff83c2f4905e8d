"""Where rate-limit counters live (the `limits` library): Redis when configured, so every
process shares one count, in-process memory otherwise."""

from __future__ import annotations

from limits.aio.storage import MemoryStorage, Storage
from limits.storage import storage_from_string


def make_storage(redis_url: str | None) -> Storage:
    """Redis shares the counts across processes; memory is per process (embedded default)."""
    if redis_url:
        storage = storage_from_string(f"async+{redis_url}")
        assert isinstance(storage, Storage)
        return storage
    return MemoryStorage()
