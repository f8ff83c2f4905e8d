"""Engine, sessions and the declarative base shared by every feature's models.

One transaction per request or task: `flint.web.SessionDep` commits when the endpoint returns
and rolls back on error; services only `flush()`. Work that must follow the commit (queueing
Celery tasks) is registered with `after_commit` and runs only if the commit succeeded.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import aiosqlite
import structlog
from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
    Numeric,
    String,
    Table,
    TypeDecorator,
    Uuid,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from flint.kit.files import private_file
from flint.kit.time import utcnow

log = structlog.get_logger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone: stripped, then restored)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use flint.kit.time.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


# --- exact decimals -------------------------------------------------------------------------
# Money, quantities and prices: NUMERIC(38, 18) on PostgreSQL (18 places is the most a stored
# value keeps, 20 integer digits more than any price needs) and text on SQLite, whose NUMERIC
# affinity would keep only 15 significant digits.

PRICE_PRECISION = 38
PRICE_SCALE = 18

_CONTEXT = Context(prec=PRICE_PRECISION, rounding=ROUND_HALF_EVEN)
_SCALE_STEP = Decimal(1).scaleb(-PRICE_SCALE)
_ONE = Decimal(1)
_INTEGER_DIGITS = PRICE_PRECISION - PRICE_SCALE


def to_stored_price(value: Decimal) -> Decimal:
    """The value a price column keeps: the value itself, or rounded (half-even) to 18 places
    when it has more.

    Raises ValueError for a value that is not finite or has more than 20 integer digits,
    rather than letting one backend round or truncate it differently from the other. (One
    quantize does both checks, cheaper than reading the exponent: ``as_tuple()`` builds a
    tuple of every digit. The value keeps its own digits when quantizing does not change
    it, so a two-place price is not sent as twenty digits.)
    """
    try:
        # At 38 significant digits, 18 places leave 20 integer digits: a value with more,
        # before or after rounding, raises InvalidOperation (so does NaN or infinity).
        rounded = value.quantize(_SCALE_STEP, context=_CONTEXT)
    except InvalidOperation:
        if not value.is_finite():
            raise ValueError(f"prices are finite, got {value}") from None
        raise _too_large(value) from None
    if rounded == value:
        return value
    if not value.is_finite():  # a quiet NaN quantizes to itself, and NaN != NaN
        raise ValueError(f"prices are finite, got {value}")
    return rounded


def _too_large(value: Decimal) -> ValueError:
    return ValueError(f"price {value} has more than {_INTEGER_DIGITS} integer digits")


def canonical_price(value: Decimal) -> Decimal:
    """A stored price without trailing zeros (PostgreSQL pads NUMERIC(38, 18) to 18 places),
    so both backends return identical digits; integers stay integers rather than ``1E+2``."""
    if value == value.to_integral_value(context=_CONTEXT):
        return value.quantize(_ONE, context=_CONTEXT)
    return value.normalize(_CONTEXT)


class Price(TypeDecorator[Decimal]):
    """Exact decimal prices on both backends: NUMERIC(38, 18), or fixed-point text on SQLite.

    Migrations name it as ``sa.Numeric(38, 18).with_variant(sa.String(40), "sqlite")``.
    """

    impl = Numeric(PRICE_PRECISION, PRICE_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(PRICE_PRECISION + 2))
        return dialect.type_descriptor(Numeric(PRICE_PRECISION, PRICE_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        stored = to_stored_price(value)
        if dialect.name == "sqlite":  # text without the padding zeros
            return format(canonical_price(stored), "f")
        return stored

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return canonical_price(value)
        if len(value) > PRICE_PRECISION or "E" in value or "e" in value or value[-1] in "0.":
            return canonical_price(Decimal(value))
        # The text SQLite keeps is canonical already (written by `process_bind_param` or by
        # `bar_sqlite.price`: no trailing zeros, no exponent, at most 38 digits), and so is its
        # Decimal: read back without the two steps `canonical_price` takes (a decade of bars is
        # 12,500 prices; -12 % of the history route's CPU). A text of another writer, with
        # zeros, an exponent or more digits, still goes through it.
        return Decimal(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for Core statements: a bulk insert of plain rows into it skips
    the ORM's per-row bookkeeping (an ORM bulk insert also starts a new statement whenever a
    row's None columns differ from the row before's)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class UUIDPk:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


READ_ONLY: dict[str, Any] = {"flint_read_only": True, "postgresql_readonly": True}
"""Execution options for connections that only read (``engine.execution_options(**READ_ONLY)``):
on SQLite they begin a deferred transaction instead of taking the write lock; on PostgreSQL a
``READ ONLY`` one, so a write that slips into a read fails loudly instead of committing."""


def prepare_sqlite_file(url: str) -> None:
    """Create a SQLite database file owner-only before SQLite does (it would use the umask,
    0644 by default; its -wal and -shm files copy the database file's mode), in WAL mode."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return
    if database.startswith("file:"):  # a URI filename: SQLite's to interpret
        return
    private_file(Path(database))
    _persist_wal(database)


def _persist_wal(database: str) -> None:
    """Switch the file to WAL mode (which it keeps) before any pool opens a connection to it.

    Switching takes the database's exclusive lock. When the first connections of a server, its
    readers and a worker each switched it in their connect hook, one could find another inside
    a read in rollback-journal mode: a writer that already reads cannot wait for that lock
    (SQLite answers "database is locked" at once, not after the busy timeout), and a sign-up
    failed with 503. Here nothing else holds a lock, so the switch waits its turn."""
    connection = sqlite3.connect(database, timeout=30, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        prepare_sqlite_file(url)
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": 30},
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
    )


POOL_SIZE = 20
POOL_OVERFLOW = 10
"""A server process's connections: at most 30, as before on PostgreSQL (10 + 20 overflow), but
20 of them kept; on a SQLite file the same (the threaded writers and the readers they share the
pool with: SQLAlchemy's default of 5 + 10 made 500 concurrent cold quotes wait out the 30 s
pool timeout on a busy machine). A connection past `POOL_SIZE` is closed as soon as it is
returned while enough others are idle, so a load that moves around the pool's size (32
connections of wrk's) kept opening connections (a TCP and authentication handshake each) and
closing them."""
PG_READ_POOL_SIZE = 32
PG_READ_POOL_OVERFLOW = 8
"""A server process's PostgreSQL read connections kept, and how many more it may open under
load. A read holds one for its statement only, but with 32 requests in flight as many
statements may be waiting on the server at once; a pool of 10 opened and closed connections
past it (a PostgreSQL backend started and ended each time) and the reads' p99 went to a second."""
READ_POOL_SIZE = 64
"""The in-thread SQLite readers kept (`create_read_engine`): a reader costs an idle thread and
a file handle, opening one costs a thread and its start-up; a pool of 5, SQLAlchemy's default,
opened and closed one on most requests once 32 were in flight (71 reads/s with p99 1.5 s)."""


def _configure_sqlite(engine: AsyncEngine, *, busy_ms: int = 30000) -> None:
    """Foreign keys on, WAL for concurrent readers, SQLAlchemy-managed BEGIN so SAVEPOINTs work."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A transaction that may write takes the write lock up front (a deferred one that
        # read first could not wait for it later: SQLITE_BUSY_SNAPSHOT); a read-only one
        # never needs it and, in WAL mode, never waits for a writer.
        read_only = conn.get_execution_options().get("flint_read_only", False)
        # Straight to the driver's cursor: `exec_driver_sql` takes a statement through the
        # whole execution path (context, events, a result), a third of a one-query read.
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")
        finally:
            cursor.close()


INLINE_READ_BUSY_MS = 2000
"""How long an in-thread SQLite read waits on a lock before it fails. In WAL mode a reader
waits only in rare cases (recovery after a crash); the wait would hold up the event loop."""


class _InlineSqlite(aiosqlite.Connection):
    """aiosqlite's connection with its calls made in the caller's thread, not handed to its
    worker thread. Each hand-off (cursor, execute, fetch, close, commit: 13 for a two-query
    read) cost a thread wake-up, a future and a wake-up of the event loop, and under load the
    worker threads waited for the interpreter lock: 1.8 ms a read on an idle server. A read of
    a WAL database never waits for a writer, and the rows are turned into Python objects under
    the interpreter lock either way, so in the event loop's thread it costs only its own work.
    The thread still connects and closes (aiosqlite and SQLAlchemy hand it those directly)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._thread.daemon = True  # as SQLAlchemy makes aiosqlite's: never holds up an exit

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def create_read_engine(engine: AsyncEngine) -> AsyncEngine:
    """An engine for the short reads of requests (`flint.web.get_session` for a GET,
    `flint.reads`), with a pool of its own. Dispose of it as well as `engine`.

    On PostgreSQL: autocommit, with the server's ``default_transaction_read_only`` on (a write
    fails) and no ping on checkout. A read is one round trip per statement instead of four
    (ping, BEGIN, the statement, ROLLBACK); under READ COMMITTED each statement had its own
    snapshot anyway. A connection the server has closed fails its statement and SQLAlchemy
    then replaces every connection of the pool (`flint.reads` tries such a read once more).
    On a SQLite file: connections run in the caller's thread (`_InlineSqlite`). In memory
    (tests): `engine` with the read-only options, sharing its one database."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return create_async_engine(
            url,
            echo=engine.echo,
            isolation_level="AUTOCOMMIT",
            pool_size=PG_READ_POOL_SIZE,
            max_overflow=PG_READ_POOL_OVERFLOW,
            connect_args={"server_settings": {"default_transaction_read_only": "on"}},
        )
    if not is_sqlite_file(url):
        return engine.execution_options(**READ_ONLY)

    async def connect() -> aiosqlite.Connection:
        return await _InlineSqlite(lambda: _inline_connection(engine))

    reader = create_async_engine(
        url,
        echo=engine.echo,
        async_creator=connect,
        pool_size=READ_POOL_SIZE,
        max_overflow=READ_POOL_SIZE,
    )
    _configure_sqlite(reader, busy_ms=INLINE_READ_BUSY_MS)
    return reader.execution_options(**READ_ONLY)


def open_sqlite_reader(engine: AsyncEngine) -> sqlite3.Connection | None:
    """For `flint.reads` on a SQLite file: a driver connection of its own, read-only
    (``query_only``) and in autocommit (each SELECT is its own read transaction, which in WAL
    mode never waits for a writer), for calls made in the event loop's thread. None for other
    databases (and in memory, where only the engine's own connection sees the data)."""
    if not is_sqlite_file(engine.url):
        return None
    connection = _inline_connection(engine, isolation_level=None)
    connection.execute("PRAGMA query_only=ON")
    return connection


def _inline_connection(engine: AsyncEngine, **extra: Any) -> sqlite3.Connection:
    """A driver connection to ``engine``'s SQLite file for calls in the event loop's thread:
    a lock waits at most `INLINE_READ_BUSY_MS`."""
    args, found = engine.dialect.create_connect_args(engine.url)
    params = {
        **found,
        "timeout": INLINE_READ_BUSY_MS / 1000,
        "check_same_thread": False,
        **extra,
    }
    connection: sqlite3.Connection = sqlite3.connect(*args, **params)  # type: ignore[call-overload]
    return connection


def is_sqlite_file(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and not _in_memory(url.database)


def _in_memory(database: str | None) -> bool:
    return not database or database == ":memory:" or "mode=memory" in database


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


AfterCommit = Callable[[], Awaitable[None] | None]


READ_ONLY_SESSION = "flint_read_only_session"
"""``session.info`` key of a request's read-only session (a GET's), which never commits."""
AFTER_COMMIT = "after_commit"
"""``session.info`` key of the callbacks waiting for the commit (dropped on a rollback)."""


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once this session's transaction has committed; never if it rolls back."""
    if session.info.get(READ_ONLY_SESSION):
        raise RuntimeError("a GET's session never commits: open a session of its own to write")
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    """The transaction is already durable: a failing callback is logged, never raised; a job
    it failed to hand off is relayed (`flint.jobs.relay`)."""
    callbacks: list[AfterCommit] = session.info.pop(AFTER_COMMIT, [])
    for callback in callbacks:
        try:
            result = callback()
            if result is not None:
                await result
        except Exception:
            log.exception("after_commit_failed", callback=getattr(callback, "__qualname__", "?"))


async def commit(session: AsyncSession) -> None:
    """Commit, then run what was waiting for the commit (used by requests and tasks alike)."""
    await session.commit()
    await run_after_commit(session)


async def driver_in_transaction(conn: AsyncConnection) -> Any:
    """The driver's own connection under ``conn`` (asyncpg's, for a COPY), inside the
    transaction ``conn`` is in. SQLAlchemy's asyncpg adapter sends BEGIN with the first
    statement it runs: a COPY on the driver's connection before any would run outside the
    transaction, kept whatever the session does next (a rollback kept its rows)."""
    await conn.exec_driver_sql("SELECT 1")
    return (await conn.get_raw_connection()).driver_connection


def dialect_insert(session: AsyncSession) -> Any:
    """The INSERT construct of the session's backend (PostgreSQL's or SQLite's), for their
    shared ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
