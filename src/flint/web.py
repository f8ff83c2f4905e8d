"""What every route may depend on: the request's database session and this process's runtime
parts. The one module of the base that knows the web framework."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from flint.config import Settings
from flint.db import AFTER_COMMIT, READ_ONLY_SESSION, commit
from flint.errors import FlintError
from flint.reads import Reads
from flint.runtime import Kind, Runtime, T, name_of

READING_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction. A GET or HEAD only reads: its session begins a read-only
    transaction (see `flint.db.READ_ONLY`), so on SQLite reads never take, nor wait for, the
    write lock, and closing it ends the transaction (there is nothing to commit); a GET that
    must write opens a session of its own (`SessionsDep`)."""
    if request.method in READING_METHODS:
        readers: async_sessionmaker[AsyncSession] = request.app.state.request_read_sessionmaker
        async with readers(info={READ_ONLY_SESSION: True}) as session:
            yield session
        return
    async with sessionmaker(request)() as session:
        try:
            yield session
        except FlintError as exc:
            if exc.commit:
                await commit(session)
            else:
                session.info.pop(AFTER_COMMIT, None)
                await session.rollback()
            raise
        except BaseException:
            session.info.pop(AFTER_COMMIT, None)
            await session.rollback()
            raise
        await commit(session)


# scope="function": the commit happens before the response is sent, so a client never sees
# success for a transaction that then fails to commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session that only reads: on SQLite a deferred transaction, which never takes (nor waits
    for) the write lock, so work the route starts in a session of its own can write."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    async with sessionmaker() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session)]


def sessionmaker(connection: HTTPConnection) -> async_sessionmaker[AsyncSession]:
    """The process's sessions that may write (`SessionsDep` without the dependency)."""
    found: async_sessionmaker[AsyncSession] = connection.app.state.sessionmaker
    return found


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return sessionmaker(request)


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
"""For a route that opens a transaction only when it turns out to need one."""


async def get_read_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    found: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    return found


ReadSessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_read_sessionmaker)]
"""Sessions that only read (`ReadSessionDep`'s kind), for a route that reads in several short
transactions (an export streamed a chunk at a time after the request's own has ended)."""


_DEPENDENCIES: dict[Any, Callable[[HTTPConnection], Awaitable[Any]]] = {}


def part(kind: Kind[T]) -> Callable[[HTTPConnection], Awaitable[T]]:
    """A FastAPI dependency answering this process's part of type ``kind`` (one function per
    type, so FastAPI resolves it once per request). Works for WebSockets too."""
    dependency = _DEPENDENCIES.get(kind)
    if dependency is None:

        async def dependency(connection: HTTPConnection) -> Any:
            runtime: Runtime = connection.app.state.runtime
            return runtime.get(kind)

        dependency.__name__ = f"runtime_{name_of(kind)}"
        _DEPENDENCIES[kind] = dependency
    return dependency


SettingsDep = Annotated[Settings, Depends(part(Settings))]


ReadsDep = Annotated[Reads, Depends(part(Reads))]
"""For a hot read route: prepared statements on the read pool, no session (`flint.reads`)."""
