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
from flint.errors import FlintError, UnsupportedMediaType, ValidationFailed
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


UPLOAD_PART = "file"
"""The multipart part a file upload is read from (or the form's only part)."""
_FORM_ENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


def upload_body(description: str) -> dict[str, Any]:
    """The OpenAPI ``multipart/form-data`` entry of a route that takes a file (`sent_file`)."""
    return {
        _MULTIPART: {
            "schema": {
                "type": "object",
                "required": [UPLOAD_PART],
                "properties": {
                    UPLOAD_PART: {"type": "string", "format": "binary", "description": description}
                },
            }
        }
    }


async def sent_file(request: Request, max_bytes: int) -> bytes:
    """The file a request carries: the body as it is (``curl --data-binary @file``), or from
    a ``multipart/form-data`` upload (an HTML form, ``curl -F file=@file``, a "form-data" file
    in an API client) the part named `UPLOAD_PART`, or the form's only part.

    A form-encoded body (what ``curl -d @file`` sends) is 415: curl drops the file's line breaks
    from it, so what arrives is no longer the file. A form without such a part is 422; a
    malformed one is 400. ``max_bytes``: the largest part that is not a file (a file sent as a
    form field), which the body's own limit already bounds."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == _FORM_ENCODED:
        raise UnsupportedMediaType(
            f"A form-encoded body ({_FORM_ENCODED}) cannot carry a file: send the file as the "
            "body itself (curl --data-binary @file) or as a multipart upload (curl -F "
            f"{UPLOAD_PART}=@file)."
        )
    if media != _MULTIPART:
        return await request.body()
    # Fields beside the file are ignored, as many as the body's limit lets through (Starlette's
    # own bound, 1,000: at 8, a form with a ninth field was 400 though the document takes any).
    form = await request.form(max_files=8, max_fields=1000, max_part_size=max_bytes)
    try:
        parts = form.multi_items()
        named = [value for key, value in parts if key == UPLOAD_PART]
        chosen = named or ([parts[0][1]] if len(parts) == 1 else [])
        if len(chosen) != 1:
            raise ValidationFailed.at(
                f"body.{UPLOAD_PART}",
                f"A multipart upload carries the file as one part named '{UPLOAD_PART}' (curl -F "
                f"{UPLOAD_PART}=@file); this one has {len(named)} such parts of {len(parts)}.",
                f"required: one part '{UPLOAD_PART}' (found {len(named)} of {len(parts)} parts)",
            )
        value = chosen[0]
        return value.encode() if isinstance(value, str) else await value.read()
    finally:
        await form.close()
