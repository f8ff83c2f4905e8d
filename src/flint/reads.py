"""Reads on the hot path: a statement built once, run on the driver.

An authenticated list read (a watchlist: the token, one SELECT of five rows) spent three
quarters of its time in SQLAlchemy's layers rather than in the database: the ORM session (its
identity map, events and object building), the async bridge's greenlet switch for every call,
an execution context and a result object per statement; on PostgreSQL also a ping, a BEGIN and
a ROLLBACK, each a round trip, around the one statement that mattered.

`Query` keeps what SQLAlchemy does well and nothing else: the statement is written with the
models' columns (``select(WatchlistItem.symbol, ...)``), compiled once per dialect, and its
values go through the column types' own bind and result processors, so a row is exactly what
SQLAlchemy would have returned (`tests/system/test_reads.py` compares them). `Reads` runs it
on a connection checked out from the read engine's pool (`flint.db.create_read_engine`: the
same connect-time set-up as every other connection):

* PostgreSQL: asyncpg's own pool (`asyncpg.create_pool`, as large as the read engine's),
  autocommit, read-only by the server's ``default_transaction_read_only``. Each statement is
  its own transaction; under READ COMMITTED each had its own snapshot anyway. asyncpg
  prepares each statement once per connection and keeps it, and a connection handed back
  goes without the reset query asyncpg sends by default (`_unchanged`). SQLAlchemy's pool
  cost two greenlet switches a read (check-out and return, about a fifth of an authenticated
  read's CPU); asyncpg's pool is native to the event loop. Its connections get the JSON codecs
  SQLAlchemy's asyncpg dialect sets, so rows stay what SQLAlchemy returns.
* SQLite: one driver connection of its own (`flint.db.open_sqlite_reader`: read-only, in
  autocommit), called in the event loop's thread. A read runs from its statement to its last
  row without yielding to the loop, so no two reads ever use it at once, and no pool or thread
  hand-off is needed. Each SELECT is its own read transaction, which in WAL mode never waits
  for a writer.

The read pool has no ping on checkout (a round trip per read): a connection the server closed
(a restart) fails its statement, every pooled connection is then replaced, and the read is
tried once more. A read that finds no connection free within the pool's timeout fails at once
with SQLAlchemy's pool error (answered 503), the busy connections left as they are. Only a read
that may have to wait is given that timeout: asyncpg runs a timed wait in a task of its own
with a timer, which cost a fifth of a read's CPU when a connection was free anyway (52-68 µs a
read against 65-100 µs, 32 reads at once on one core).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import greenlet_spawn

from flint.db import PG_READ_POOL_OVERFLOW, PG_READ_POOL_SIZE, is_sqlite_file, open_sqlite_reader

Processor = Callable[[Any], Any] | None
Reader = tuple[int, Callable[[Any], Any]]
"""A column's position in a row and its result processor."""


class _Compiled(NamedTuple):
    sql: str
    names: tuple[str, ...]
    """The bind parameters in the order the SQL takes them."""
    defaults: dict[str, Any]
    """Values the statement carries itself (a literal in a WHERE, a LIMIT)."""
    binders: tuple[Processor, ...]


class Query:
    """One SELECT, its parameters named with ``bindparam`` (``Reads.all(query, user_id=...)``).
    Rows are named tuples whose fields are the selected columns' keys (unnamed ones: ``_0``...).
    """

    def __init__(self, statement: Select[*tuple[Any, ...]]) -> None:
        self.statement = statement
        keys = [str(column.key) for column in statement.selected_columns]
        row_type: Any = namedtuple("Row", keys, rename=True)  # type: ignore[misc]
        self.row: Callable[[Sequence[Any]], Any] = row_type._make
        self._compiled: dict[str, _Compiled] = {}
        self._readers: dict[str, tuple[Reader, ...]] = {}
        """Per dialect, the columns that have a result processor (their positions) and those
        processors: found on the first run, as some need the column's database type."""

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        if any(bind.expanding for bind in compiled.binds.values()):
            raise TypeError("a Query cannot take an expanding IN parameter")
        names = tuple(compiled.positiontup or ())
        defaults = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if not bind.required and bind.callable is None
        }
        binders = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        )
        return _Compiled(compiled.string, names, defaults, binders)

    def knows_types(self, dialect: Dialect) -> bool:
        """Whether the columns' result processors for ``dialect`` are found already."""
        return dialect.name in self._readers

    def readers(self, dialect: Dialect, types: Sequence[Any]) -> tuple[Reader, ...]:
        """The columns' result processors (with each column's position; a column without one
        is left out), given the database's type of each (as the driver describes them:
        PostgreSQL's type oids; None on SQLite)."""
        found = self._readers.get(dialect.name)
        if found is None:
            processors = (
                column.type.dialect_impl(dialect).result_processor(dialect, kind)
                for column, kind in zip(self.statement.selected_columns, types, strict=True)
            )
            found = self._readers[dialect.name] = tuple(
                (at, read) for at, read in enumerate(processors) if read is not None
            )
        return found

    def rows(self, converting: tuple[Reader, ...], rows: Sequence[Sequence[Any]]) -> list[Any]:
        make = self.row
        if not converting:
            return [make(row) for row in rows]
        made = []
        for row in rows:  # only the columns that have a processor (often one: a timestamp)
            values = list(row)
            for at, read in converting:
                values[at] = read(values[at])
            made.append(make(values))
        return made


class Reads:
    """Runs `Query`s on the read engine's pool (see the module's docstring)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self._postgres = engine.dialect.name == "postgresql"
        self._sqlite: sqlite3.Connection | None = None
        self._sqlite_file = is_sqlite_file(engine.url)
        self._statement_errors, self._disconnects = _errors(engine)
        self._pool: Any = None
        """PostgreSQL: asyncpg's pool, opened by the first read."""
        pool = engine.sync_engine.pool
        self._pool_timeout = pool.timeout() if isinstance(pool, QueuePool) else None
        """How long a read waits for a pooled PostgreSQL connection: the read engine's own."""
        self._opening: asyncio.Lock | None = None
        self._pool_size = PG_READ_POOL_SIZE + PG_READ_POOL_OVERFLOW
        self._running = 0
        """PostgreSQL reads holding or waiting for a pooled connection."""

    def _statement_failed(self, exc: BaseException) -> bool:
        """Whether the statement failed on a connection still fit for use (an error the server
        answered), rather than the connection breaking under it."""
        return isinstance(exc, self._statement_errors) and not isinstance(exc, self._disconnects)

    async def all(self, query: Query, **params: Any) -> list[Any]:
        compiled = query.compiled(self.dialect)
        values = _bind(compiled, params)
        try:
            return await self._run(query, compiled.sql, values)
        except _Broken as broken:
            # The server closed the pool's connections (a restart): try once on fresh ones.
            if self._pool is not None:
                await self._pool.expire_connections()
            else:
                await self.engine.dispose(close=False)
            try:
                return await self._run(query, compiled.sql, values)
            except _Broken as again:
                raise again.cause from broken.cause

    async def first(self, query: Query, **params: Any) -> Any | None:
        rows = await self.all(query, **params)
        return rows[0] if rows else None

    async def scalar(self, query: Query, **params: Any) -> Any:
        row = await self.first(query, **params)
        return None if row is None else row[0]

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=CLOSE_SECONDS)
            except TimeoutError:  # a read still holds a connection: end them all now
                pool.terminate()

    async def _run(self, query: Query, sql: str, values: Sequence[Any]) -> list[Any]:
        if self._sqlite_file:
            if self._sqlite is None:
                self._sqlite = open_sqlite_reader(self.engine)
                assert self._sqlite is not None
            found = self._sqlite.execute(sql, values).fetchall()
            return query.rows(query.readers(self.dialect, _untyped(query)), found)
        if self._postgres:
            return await self._run_postgres(query, sql, values)
        try:
            connection = await self.engine.raw_connection()
        except PoolTimeout:  # every connection busy: nothing to replace
            raise
        except Exception as exc:  # no connection to be had (the server is restarting)
            raise _Broken(exc) from exc
        try:
            driver: Any = connection.driver_connection  # an in-memory database's aiosqlite
            cursor = await driver.execute(sql, values)
            rows: Sequence[Sequence[Any]] = await cursor.fetchall()
            types: Sequence[Any] = _untyped(query)
        except BaseException as exc:
            if self._statement_failed(exc):
                await greenlet_spawn(connection.close)  # the connection is fine
                raise
            await greenlet_spawn(connection.invalidate)
            if isinstance(exc, Exception):  # the connection is gone (not a cancellation)
                raise _Broken(exc) from exc
            raise
        await greenlet_spawn(connection.close)  # back to the pool
        return query.rows(query.readers(self.dialect, types), rows)

    async def _run_postgres(self, query: Query, sql: str, values: Sequence[Any]) -> list[Any]:
        pool = self._pool if self._pool is not None else await self._open_pool()
        try:
            # Only a read that may wait for a connection needs the timeout: asyncpg waits in a
            # task of its own with a timer, a fifth of a read's CPU. The pool serves only these
            # reads, so one is free while fewer than its size are running.
            wait = None if self._running < self._pool_size else self._pool_timeout
            self._running += 1
            try:
                async with pool.acquire(timeout=wait) as driver:
                    if query.knows_types(self.dialect):
                        # asyncpg prepares the statement once per connection and keeps it
                        rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *values)
                        types: Sequence[Any] = ()
                    else:  # the first run: the result types as the server says
                        prepared = await driver.prepare(sql)
                        rows = await prepared.fetch(*values)
                        types = [field.type.oid for field in prepared.get_attributes()]
            finally:
                self._running -= 1
        except TimeoutError as exc:  # none came free in time: say it as SQLAlchemy's pool does
            # (at once: the connections are busy, not broken; replacing them all and waiting
            # once more, as for a restart, doubled the wait and dropped the busy ones)
            raise PoolTimeout(
                f"no PostgreSQL read connection came free within {self._pool_timeout} s"
            ) from exc
        except Exception as exc:
            if self._statement_failed(exc):
                raise  # the server refused the statement; the connection is fine
            raise _Broken(exc) from exc  # the connection is gone, or none could be had
        return query.rows(query.readers(self.dialect, types), rows)

    async def _open_pool(self) -> Any:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is None:
                url = self.engine.url.set(drivername="postgresql")
                self._pool = await asyncpg.create_pool(
                    url.render_as_string(hide_password=False),
                    min_size=0,
                    max_size=self._pool_size,
                    # a read taking a free place may open its connection: as long as a wait
                    timeout=self._pool_timeout or CONNECT_SECONDS,
                    server_settings={"default_transaction_read_only": "on"},
                    init=self._set_codecs,
                    reset=_unchanged,
                )
        return self._pool

    async def _set_codecs(self, connection: Any) -> None:
        """JSON and JSONB decoded as SQLAlchemy's asyncpg dialect decodes them."""
        loads = getattr(self.dialect, "_json_deserializer", None) or json.loads
        await connection.set_type_codec(
            "json",
            encoder=str.encode,
            decoder=lambda value: loads(value.decode()),
            schema="pg_catalog",
            format="binary",
        )
        await connection.set_type_codec(
            "jsonb",
            encoder=lambda value: b"\x01" + value.encode(),
            decoder=lambda value: loads(value[1:].decode()),
            schema="pg_catalog",
            format="binary",
        )


async def _unchanged(connection: Any) -> None:
    """What the read pool does to a connection handed back: nothing more than asyncpg's own
    (a transaction left open is rolled back). Its default sends ``pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL`` first, a second round trip for every read, to undo
    session state a `Query`'s one SELECT in autocommit never makes."""


CLOSE_SECONDS = 5.0
"""How long closing waits for reads still running before it ends their connections."""

CONNECT_SECONDS = 30.0
"""How long opening a read connection may take when the pool has no timeout of its own."""


class _Broken(Exception):
    """A read's connection broke under it, or none could be had (``cause`` says how)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(cause)
        self.cause = cause


def _untyped(query: Query) -> list[None]:
    return [None] * len(query.statement.selected_columns)


def _bind(compiled: _Compiled, params: dict[str, Any]) -> list[Any]:
    values = []
    for name, binder in zip(compiled.names, compiled.binders, strict=True):
        value = params[name] if name in params else compiled.defaults[name]
        values.append(value if binder is None else binder(value))
    return values


def _errors(
    engine: AsyncEngine,
) -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """What a statement raises that leaves its connection usable, and which of those say the
    connection is gone after all."""
    if engine.dialect.name != "postgresql":
        return (sqlite3.Error,), ()
    return (asyncpg.PostgresError,), (asyncpg.PostgresConnectionError, asyncpg.AdminShutdownError)
