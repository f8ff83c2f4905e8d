"""Compiled SQL shared by every engine of a test process, as a server process's one engine keeps
it for its lifetime.

SQLAlchemy caches each statement's compiled form per engine (and per mapper, for the ORM's
flushes), keyed by the engine's dialect object. A test builds an app, so new engines and new
dialects, and compiled every statement it ran again: a sign-up and a read spent a third of their
time in SQLAlchemy's compiler, 13 % of the in-process suites' CPU. Here the engines' caches are
one cache, and a dialect is named in its keys by `signature` (its class and every plain value it
holds once it has met its server: paramstyle, server version, isolation level, flags), so two
dialects share a compiled statement only where nothing they hold could make it differ (a
statement compiled by a dialect of other settings is compiled again for it: tested in
tests/test_suite_sql.py). What is shared is only the compiler's output; every engine keeps its
own pool, connections and dialect."""

from __future__ import annotations

import types
import weakref
from typing import Any

from sqlalchemy import event, util
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import configure_mappers

from flint.app.models import Base

CACHE_SIZE = 20_000
"""Statements kept (an engine's own cache keeps 500; the suite runs a few thousand, on each
backend)."""

_PLAIN = (bool, int, float, str, bytes, type(None), tuple, frozenset, types.FunctionType)
_signatures: weakref.WeakKeyDictionary[Dialect, tuple[Any, ...]] = weakref.WeakKeyDictionary()


def signature(dialect: Dialect) -> tuple[Any, ...]:
    """What names ``dialect`` in a shared key: its class and each attribute of its own, the
    plain values as they are and any other object by its type (the dbapi adapter, the
    identifier preparer and the type compiler are made from the class and the plain values).
    Kept once the dialect has met its server (its version known), made each time before."""
    known = _signatures.get(dialect)
    if known is not None:
        return known
    held = sorted(
        (name, value if isinstance(value, _PLAIN) else type(value))
        for name, value in vars(dialect).items()
    )
    made = (type(dialect), *held)
    if dialect.server_version_info is not None:
        _signatures[dialect] = made
    return made


class SharedCompiled:
    """A compiled-statement cache whose keys name the dialect by `signature` (SQLAlchemy keys
    ``(dialect, statement key, columns, schema translation, executemany)``)."""

    def __init__(self, size: int) -> None:
        self._cache: util.LRUCache[tuple[Any, ...], Any] = util.LRUCache(size)

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        return self._cache.get((signature(key[0]), *key[1:]), default)

    def __setitem__(self, key: tuple[Any, ...], value: Any) -> None:
        self._cache[(signature(key[0]), *key[1:])] = value


ENGINES = SharedCompiled(CACHE_SIZE)


def _use_shared(connection: Connection) -> None:
    connection.engine._compiled_cache = ENGINES  # type: ignore[assignment]


def share_compiled_sql() -> None:
    """Every engine of this process uses `ENGINES` from its first connection on, and each of
    Flint's mappers one shared cache for its flushes."""
    if not event.contains(Engine, "engine_connect", _use_shared):
        event.listen(Engine, "engine_connect", _use_shared)
    configure_mappers()  # configuring resets what a mapper has memoized
    for mapper in Base.registry.mappers:
        # A memoized attribute: should SQLAlchemy reset it, the mapper makes a cache of its
        # own again, so a statement is compiled more often, never wrongly.
        mapper.__dict__["_compiled_cache"] = SharedCompiled(1_000)
