"""Background jobs: the Celery app, tasks sent by name after the commit, and the task side's
event loop and runtime.

Production: RabbitMQ (`FLINT_BROKER_URL`). Embedded default: kombu's SQLAlchemy transport on a
SQLite file in the data dir, so `make run` needs no server.

Services never import task modules: they call ``enqueue(session, "flint.trades.submit", id)``
and the message leaves only once the session's transaction has committed (a rolled-back
change sends nothing). Task modules import services; only the worker (`flint.app.worker`)
imports the task modules. Tasks are synchronous and thin: each runs its async service call on
this process's one event loop (`run_async`), with a session of its own, and is safe to run
twice.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

import anyio
from asgi_correlation_id import correlation_id
from celery import Celery
from sqlalchemy.ext.asyncio import AsyncSession

from flint.config import Settings, get_settings
from flint.db import after_commit
from flint.kit.files import private_file
from flint.runtime import Runtime

T = TypeVar("T")


def broker_url(settings: Settings) -> str:
    """The configured broker, else the embedded one (its directory is made by the runtime of
    whatever process uses it: importing this module creates nothing)."""
    if settings.broker_url:
        return settings.broker_url
    path = (settings.data_dir / "broker.db").resolve()
    return f"sqla+sqlite:///{path}"


def prepare_broker(settings: Settings) -> None:
    """Create the embedded broker's file owner-only before kombu creates it (queued jobs name
    users and addresses); nothing for a configured broker."""
    if not settings.broker_url:
        private_file(settings.data_dir / "broker.db")


def create_celery(settings: Settings) -> Celery:
    """The app every process publishes with; the worker adds its task modules and schedule."""
    app = Celery("flint", broker=broker_url(settings), backend=settings.result_backend)
    app.conf.update(
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
    )
    return app


celery_app = create_celery(get_settings())


# --- sending ---------------------------------------------------------------------------------


REQUEST_ID_HEADER = "flint_request_id"
"""The message header carrying the id of the request (or task) that sent it."""


def send(name: str, *args: str) -> None:
    """Publish the task ``name`` now (blocking I/O in kombu: from a task, or a thread), with
    the current request id, which the task then logs and reports its errors under."""
    request_id = correlation_id.get()
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    celery_app.send_task(name, args=list(args), headers=headers)


async def send_async(name: str, *args: str) -> None:
    """`send` from the event loop, on a worker thread."""
    await anyio.to_thread.run_sync(partial(send, name, *args))


def enqueue(session: AsyncSession, name: str, *args: str) -> None:
    """Publish the task ``name`` once ``session`` has committed; never if it rolls back."""
    after_commit(session, partial(send_async, name, *args))


# --- the task side ---------------------------------------------------------------------------

Builder = Callable[[Settings], Runtime]


class _TaskProcess:
    """One event loop and one runtime per worker process, made on first use by the builder the
    worker registered (`flint.app.worker`)."""

    def __init__(self) -> None:
        self._runner: asyncio.Runner | None = None
        self._runtime: Runtime | None = None
        self._settings: Settings | None = None
        self._builder: Builder | None = None
        self._lock = threading.Lock()

    def use(self, builder: Builder, settings: Settings | None = None) -> None:
        """Build runtimes with ``builder``, from ``settings`` rather than the environment's
        (a test running a worker inside its own process); what was built before is closed."""
        self.close()
        self._builder = builder
        self._settings = settings

    def settings(self) -> Settings:
        return self._settings or get_settings()

    def runtime(self) -> Runtime:
        if self._runtime is None:
            if self._builder is None:
                raise RuntimeError("no runtime: start workers through `flint worker`")
            self._runtime = self._builder(self.settings())
        return self._runtime

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._runner is None:
                self._runner = asyncio.Runner()
            return self._runner.run(coro)

    def close(self) -> None:
        """Release what was built (clients, pools, the event loop)."""
        if self._runner is not None:
            if self._runtime is not None:
                self.run(self._runtime.aclose())
            with self._lock:
                self._runner.close()
        self._runner = None
        self._runtime = None


process = _TaskProcess()


def runtime() -> Runtime:
    """This worker process's runtime (built on first use)."""
    return process.runtime()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    return process.run(coro)
