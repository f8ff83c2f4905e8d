"""What a database error says: that the database cannot be reached or used just now (the API
answers 503 with Retry-After, an import is retried), or that a row's referent was deleted by
another request meanwhile (409: ask again). Anything else is a statement gone wrong (500)."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import exc as sa_exc

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset: the server is down or restarting
    socket.gaierror,  # its host name does not resolve
    sa_exc.TimeoutError,  # no pooled connection came free in time
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
)


_SQLITE_AWAY = (
    "database is locked",  # busy past the timeout
    "database table is locked",
    "unable to open database file",
    "disk I/O error",
)
"""SQLite's words for a database it cannot use just now (its other OperationalErrors, such as
"no such table", are statements gone wrong: a 500)."""


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, the driver's own error beneath it and what caused either, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, sa_exc.DBAPIError):
            pending.append(current.orig)
        pending += [current.__cause__, current.__context__]


def referent_gone(error: BaseException) -> bool:
    """Whether ``error`` is a foreign key refusing a row because what it refers to is gone:
    deleted by another request after this one read it (an account closed while one of its
    requests was on its way). The API answers those 409: asked again, the request meets the
    deletion (a 401 or 404) instead of racing it."""
    for current in _causes(error):
        if isinstance(current, asyncpg.ForeignKeyViolationError):
            return True
        if isinstance(current, sqlite3.IntegrityError) and str(current).startswith(
            "FOREIGN KEY constraint failed"
        ):
            return True
    return False


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database cannot be reached or used just
    now, rather than that a statement was wrong: the API answers those 503 with Retry-After."""
    for current in _causes(error):
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, sqlite3.OperationalError) and str(current).startswith(_SQLITE_AWAY):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
    return False
