"""What one process builds at start-up and every request or task shares: the runtime.

The composition root (`flint.app.runtime`) decides what goes in for each role: the API, a Celery
worker, a performance process. Features never hold the whole runtime: each part is looked up
by its type, and a feature declares a typed dependency for the part it uses
(``MarketDep = Annotated[MarketData, Depends(part(MarketData))]`` in `flint.market.deps`, with
`flint.web.part`), so a route's signature says what it needs and the base knows no feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar, cast

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flint.config import Settings
from flint.db import READ_ONLY, create_read_engine, create_sessionmaker
from flint.reads import Reads

log = structlog.get_logger(__name__)

T = TypeVar("T")
Kind = Callable[..., T]
"""A part's key: its class, or a Protocol it implements (typed as a callable so that mypy
accepts a Protocol too)."""
Role = Literal["api", "worker", "performance", "cli"]
Hook = Callable[[], Awaitable[None] | None]


class Runtime:
    """Settings, the database, and the parts the role needs, each registered under a type."""

    def __init__(
        self,
        settings: Settings,
        role: Role,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.settings = settings
        self.role = role
        self.engine = engine
        self.sessions = sessions
        self.readers = create_sessionmaker(engine.execution_options(**READ_ONLY))
        """Sessions that only read (on SQLite: never the write lock), of any size."""
        reader = create_read_engine(engine)
        self.request_readers = create_sessionmaker(reader)
        """A GET's session: read-only and, on SQLite, run in the event loop's thread (see
        `flint.db.create_read_engine`), for the short reads of a request. A read that may be
        long (a portfolio's ledger and ten years of closes) uses `readers`, whose calls run in
        aiosqlite's thread, so the event loop answers other requests meanwhile."""
        reads = Reads(reader)
        self._parts: dict[Any, Any] = {Settings: settings, Reads: reads}
        self._starters: list[Hook] = []
        self._closers: list[Hook] = [engine.dispose, reads.close]
        if reader.sync_engine.pool is not engine.sync_engine.pool:
            self._closers.append(reader.dispose)

    def add(self, part: T, *, kind: Kind[T] | None = None, close: Hook | None = None) -> T:
        """Register ``part`` under ``kind`` (its own class by default); ``close`` runs at
        shutdown, in the reverse order of registration (what was built last used the rest)."""
        self._parts[kind or type(part)] = part
        if close is not None:
            self.add_closer(close)
        return part

    def add_closer(self, close: Hook) -> None:
        self._closers.append(close)

    def get(self, kind: Kind[T]) -> T:
        try:
            return cast(T, self._parts[kind])
        except KeyError:
            raise LookupError(f"the {self.role} runtime has no {name_of(kind)}") from None

    def on_start(self, starter: Hook) -> None:
        self._starters.append(starter)

    async def start(self) -> None:
        for starter in self._starters:
            result = starter()
            if result is not None:
                await result

    async def aclose(self) -> None:
        """Release everything, each closer once, even when another fails."""
        closers, self._closers = self._closers, []
        for close in reversed(closers):
            try:
                result = close()
                if result is not None:
                    await result
            except Exception:
                log.exception("runtime_close_failed", closer=getattr(close, "__qualname__", "?"))


def name_of(kind: Kind[Any]) -> str:
    return getattr(kind, "__name__", repr(kind))
