"""The cycle collector kept out of work that makes many objects and no garbage (`collector_paused`).

Python's cyclic garbage collector runs after every so many allocations and walks the objects
of a generation, the oldest generation being everything that has lived long enough. Work that
builds a large, long-lived heap sets it off again and again, each walk longer than the last,
and finds nothing to free. Measured on one 2-core machine:

* importing Flint's modules (the API's or the worker's): 0.30-0.35 s of the 2.0-2.5 s of CPU a
  process spent importing Flint, 551 collections;
* the API's start-up after its imports (the runtime started, `warm_process`, `prepare_routes`,
  `settle_heap`): 0.78-0.93 s of CPU with the collector on, 0.64-0.81 s with it paused (five
  runs each); a whole ``flint serve`` start, 2.56 s of CPU against 2.37 (eight runs each);
* a 100,000-row import or a history batch in the worker: about 1 s of the import's 7.

What cycles such a block does leave are collected once the collector is back on; the API's and
the worker's start-ups end inside the block with `settle_heap`, whose explicit collection runs
whether the collector is on or not, then freezes what is left.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cycle collector off for the block, and as it was before once the block ends
    (blocks nest: only the outermost one that found it on turns it back on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
