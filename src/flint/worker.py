"""The Celery app. Production: RabbitMQ (FLINT_BROKER_URL). Embedded default: kombu's SQLAlchemy
transport on a SQLite file in the data dir, so `make run` needs no server.

Tasks are synchronous and thin: each runs its async service call on this process's one event
loop (`run_async`), with a session of its own, and is safe to run twice.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from celery import Celery
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import flint.app.models  # noqa: F401  (every table known to the mapper before a task flushes)
from flint.config import Settings, get_settings
from flint.db import create_engine, create_sessionmaker

if TYPE_CHECKING:
    from flint.accounts.service import Accounts
    from flint.market.service import MarketData

T = TypeVar("T")

TASK_MODULES = [
    "flint.notifications.tasks",
    "flint.market.tasks",
    "flint.accounts.tasks",
    "flint.trades.tasks",
    "flint.reports.tasks",
]


def broker_url(settings: Settings) -> str:
    if settings.broker_url:
        return settings.broker_url
    path = (settings.ensure_data_dir() / "broker.db").resolve()
    return f"sqla+sqlite:///{path}"


def create_celery(settings: Settings) -> Celery:
    app = Celery("flint", broker=broker_url(settings), backend=settings.result_backend)
    app.conf.update(
        include=TASK_MODULES,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        enable_utc=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=settings.result_backend is None,
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.task_queue,
        worker_hijack_root_logger=False,
        beat_schedule={
            "notifications-resend-stale": {
                "task": "flint.notifications.resend_stale",
                "schedule": 60.0,
            },
            "trades-sweep": {
                "task": "flint.trades.sweep",
                "schedule": 30.0,
                "options": {"expires": 30},
            },
            "reports-sweep": {
                "task": "flint.reports.sweep",
                "schedule": 60.0,
                "options": {"expires": 60},
            },
            "accounts-sync-all": {
                "task": "flint.accounts.sync_all",
                "schedule": 24 * 3600.0,
                "options": {"expires": 3600},
            },
            "market-refresh-quotes": {
                "task": "flint.market.refresh_quotes",
                "schedule": settings.quote_refresh_seconds,
                "options": {"expires": settings.quote_refresh_seconds},
            },
        },
    )
    return app


celery_app = create_celery(get_settings())


class _TaskRuntime:
    """One event loop and one engine per worker process, made on first use."""

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._market: MarketData | None = None
        self._accounts: Accounts | None = None
        self._settings: Settings | None = None
        self._lock = threading.Lock()

    def settings(self) -> Settings:
        return self._settings or get_settings()

    def configure(self, settings: Settings | None) -> None:
        """Build from ``settings`` rather than the environment's from now on (a test running a
        worker inside its own process); what was built before is closed first."""
        self.close()
        self._settings = settings

    def close(self) -> None:
        """Release what the runtime built (clients, pool, event loop)."""

        async def _release() -> None:
            if self._accounts is not None:
                await self._accounts.providers.aclose()
            if self._market is not None:
                await self._market.aclose()
            if self._engine is not None:
                await self._engine.dispose()

        if self._runner is not None:
            self.run(_release())
            with self._lock:
                self._runner.close()
        self._runner = None
        self._engine = None
        self._sessionmaker = None
        self._market = None
        self._accounts = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(coro)

    def market(self) -> MarketData:
        if self._market is None:
            from flint.kit.cache import create_cache
            from flint.market.providers.factory import build_market

            settings = self.settings()
            self._market = build_market(settings, create_cache(settings.redis_url))
        return self._market

    def accounts(self) -> Accounts:
        if self._accounts is None:
            from flint.accounts.service import Accounts

            self._accounts = Accounts.build(self.settings(), self.market())
        return self._accounts

    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        if self._sessionmaker is None:
            settings = self.settings()
            self._engine = create_engine(settings.resolved_database_url)
            self._sessionmaker = create_sessionmaker(self._engine)
        return self._sessionmaker


runtime = _TaskRuntime()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return runtime.run(coro)
