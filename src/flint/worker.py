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

import flint.models  # noqa: F401  (every table known to the mapper before a task flushes)
from flint.config import Settings, get_settings
from flint.db import create_engine, create_sessionmaker

if TYPE_CHECKING:
    from flint.market.service import MarketData

T = TypeVar("T")

TASK_MODULES = ["flint.notifications.tasks", "flint.market.tasks"]


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
        self._lock = threading.Lock()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(coro)

    def market(self) -> MarketData:
        if self._market is None:
            from flint.kit.cache import create_cache
            from flint.market.providers.factory import build_market

            settings = get_settings()
            self._market = build_market(settings, create_cache(settings.redis_url))
        return self._market

    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        if self._sessionmaker is None:
            settings = get_settings()
            self._engine = create_engine(settings.resolved_database_url)
            self._sessionmaker = create_sessionmaker(self._engine)
        return self._sessionmaker


runtime = _TaskRuntime()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return runtime.run(coro)
