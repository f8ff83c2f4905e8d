"""CPU work over many rows, off the event loop when there are many.

A request that builds, hashes or converts tens of thousands of rows on the event loop holds
every other request of its process meanwhile (a 4.5 MB Ghostfolio import: /healthz waited
0.7 s). `crunch` runs such a step in a worker thread once it handles `IN_THREAD_FROM` items or
more; below that the thread's hand-off (about 0.1 ms) would cost more than it saves.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio

T = TypeVar("T")

IN_THREAD_FROM = 2000
"""Items from which a step runs in a worker thread (a few ms of Python work)."""


async def crunch(items: int, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, which handles ``items`` items: in a worker thread when they
    are many, else here. ``fn`` must not touch the event loop's objects (sessions, caches)."""
    if items < IN_THREAD_FROM:
        return fn(*args, **kwargs)
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))
