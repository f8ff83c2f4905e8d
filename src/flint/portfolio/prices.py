"""Stored daily closes for valuations, kept in memory between computations.

A portfolio's performance reads a decade of closes for every symbol it has held (1.3 million
for 500 symbols). Closed daily bars almost never change, so each process keeps the arrays it
has read in a byte-bounded LRU and asks the database only which series were written since
(`flint.market.write_tokens`: one small query). A series whose token moved, or that was never read
from early enough, is read again (`flint.market.load_daily_closes`, one query for all of them).

Entries are keyed by the database as well as the symbol, so one process serving several
databases (the tests) never mixes them up.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncSession

from flint.market.api import DailyCloses, Interval, load_daily_closes, write_tokens

MAX_BYTES = 256 * 1024 * 1024
"""What the cached arrays of one process may take: about 6,000 symbol-decades."""


@dataclass(frozen=True)
class _Held:
    token: str
    since: date
    closes: DailyCloses


def _size(held: _Held) -> int:
    c = held.closes
    return int(c.days.nbytes + c.closes.nbytes + c.provisional.nbytes) + 200


_held: LRUCache[tuple[str, str], _Held] = LRUCache(maxsize=MAX_BYTES, getsizeof=_size)
_lock = threading.Lock()


def _database(session: AsyncSession) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=True)


async def daily_closes(
    session: AsyncSession, symbols: Sequence[str], start: date
) -> dict[str, DailyCloses]:
    """Every stored daily close of ``symbols`` from ``start`` on, through the last stored (so
    a later end needs no new read; the caller slices with `between`); a symbol without any is
    absent. A series held from earlier than ``start`` is cut at ``start``: the answer is what
    a cold read gives, whatever was read before."""
    return (await read_closes(session, symbols, start)).closes


@dataclass(frozen=True)
class Read:
    closes: dict[str, DailyCloses]
    tokens: dict[str, str]
    """The write token of each symbol (`flint.market.write_tokens`), read before its closes:
    a symbol whose token has moved since has had bars written after this read."""


async def read_closes(session: AsyncSession, symbols: Sequence[str], start: date) -> Read:
    """`daily_closes`, with the write tokens they were read under."""
    if not symbols:
        return Read({}, {})
    database = _database(session)
    tokens = await write_tokens(session, symbols, Interval.D1)
    out: dict[str, DailyCloses] = {}
    stale: list[str] = []
    with _lock:
        for symbol in symbols:
            held = _held.get((database, symbol))
            token = tokens.get(symbol)
            if held is not None and token == held.token and held.since <= start:
                out[symbol] = since(held.closes, start)
            else:
                stale.append(symbol)
    if not stale:
        return Read(out, tokens)
    loaded = await load_daily_closes(session, stale, start)
    with _lock:
        for symbol in stale:
            closes = loaded.get(symbol)
            if closes is None:
                continue
            out[symbol] = closes
            token = tokens.get(symbol)
            if token is not None:  # read after the token: a newer write only re-reads later
                _held[(database, symbol)] = _Held(token, start, closes)
    return Read(out, tokens)


def clear() -> None:
    """Forget every cached series (for tests and benchmarks that time a first read)."""
    with _lock:
        _held.clear()


def since(closes: DailyCloses, start: date) -> DailyCloses:
    """``closes`` from ``start`` on (inclusive)."""
    first = int(np.searchsorted(closes.days, np.datetime64(start, "D"), side="left"))
    if first == 0:
        return closes
    return DailyCloses(
        closes.days[first:],
        closes.closes[first:],
        closes.provisional[closes.provisional >= np.datetime64(start, "D")],
    )


def between(closes: DailyCloses, end: date) -> DailyCloses:
    """``closes`` up to ``end`` (inclusive)."""
    stop = int(np.searchsorted(closes.days, np.datetime64(end, "D"), side="right"))
    if stop == len(closes.days):
        return closes
    return DailyCloses(
        closes.days[:stop],
        closes.closes[:stop],
        closes.provisional[closes.provisional <= np.datetime64(end, "D")],
    )
