"""Background jobs: the Celery app, tasks sent by name after the commit, and the task side's
event loop and runtime.

Production: RabbitMQ (`FLINT_BROKER_URL`). Embedded default: kombu's SQLAlchemy transport on a
SQLite file in the data dir, so `make run` needs no server.

Services never import task modules: they call ``enqueue(session, "flint.trades.submit", id)``
and the message leaves only once the session's transaction has committed (a rolled-back
change sends nothing). The job is also written in that transaction (`flint.handoffs`) and
deleted once the broker has it, so a hand-off that fails (the broker down, the process killed
between its commit and its publish) is not lost: `relay` hands it off again, which a worker
does each time it connects to the broker and beat every half minute. Task modules import
services; only the worker (`flint.app.worker`) imports the task modules. Tasks are synchronous
and thin: each runs its async service call on this process's one event loop (`run_async`),
with a session of its own, and is safe to run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from queue import Empty
from typing import Any, TypeVar

import anyio
import structlog
from asgi_correlation_id import correlation_id
from celery import Celery
from celery.app.amqp import AMQP
from kombu.connection import Connection
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqlalchemy
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flint import handoffs
from flint.config import Settings, get_settings
from flint.db import AFTER_COMMIT, after_commit
from flint.kit.files import private_file
from flint.runtime import Runtime

log = structlog.get_logger(__name__)

T = TypeVar("T")


class EmbeddedChannel(kombu_sqlalchemy.Channel):
    """kombu's SQLAlchemy channel, which keeps no message once it is delivered, and looks into
    the broker file only when something has been written to it since it last found a queue
    empty.

    kombu marks a delivered message invisible and never deletes it (nor reads it again: an
    unacknowledged message is kept by the channel itself), so the broker file grew by every job
    the beat schedule sent, about 12,000 a day, and each look for messages scanned them all in
    time order: 40 ms a look at a week's 84,000 rows, ten looks a second, 40 % of a core for an
    idle `make run`. The rows a delivery leaves invisible are deleted with it.

    Each look of kombu's for a message (ten a second, per queue) takes SQLite's write lock
    (``BEGIN IMMEDIATE``) and runs two ORM queries, found empty nearly always. A message only
    ever arrives by a commit to the file, which SQLite counts (``PRAGMA data_version``, read on
    a connection of the channel's own, changes whenever any other connection has committed), so
    a queue found empty is not looked into again until that count moves. The count is read
    before the look, so a message committed during a look that missed it moves the count the
    next poll reads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._watch: sqlite3.Connection | None = None
        self._empty_at: dict[str, int] = {}
        """Per queue, the file's commit count when a look last found it empty."""

    def _get_or_create(self, queue: Any) -> Any:
        """kombu's, and the queue as another process made it when that process inserted it
        between this one's look and its insert. The API, the worker and beat each declare their
        queues as they start, and kombu's lock around the insert is per process: the queue's
        unique name refused the second insert with an IntegrityError kombu does not catch, and
        `make run`'s worker stopped at start."""
        try:
            return super()._get_or_create(queue)  # type: ignore[no-untyped-call]
        except IntegrityError:
            self.session.rollback()
            return super()._get_or_create(queue)  # type: ignore[no-untyped-call]

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        version = self._data_version()
        if version is not None and self._empty_at.get(queue) == version:
            raise Empty()
        try:
            payload = super()._get(queue)  # type: ignore[no-untyped-call]
        except Empty:
            if version is not None:
                self._empty_at[queue] = version
            raise
        message = self.message_cls
        self.session.query(message).filter(message.visible == False).delete(  # noqa: E712
            synchronize_session=False
        )
        self.session.commit()
        return payload

    def _data_version(self) -> int | None:
        """The broker file's commit count as this channel's own connection sees it; None when
        the broker is not a SQLite file or the count cannot be read (kombu then looks, as
        always)."""
        try:
            if self._watch is None:
                url = self.session.bind.url  # opens kombu's engine: the file and tables exist
                if url.get_backend_name() != "sqlite" or not url.database:
                    return None
                where = f"{Path(url.database).resolve().as_uri()}?mode=ro"
                self._watch = sqlite3.connect(where, uri=True, check_same_thread=False)
            row = self._watch.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            self._close_watch()
            return None
        return int(row[0])

    def _close_watch(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def close(self) -> None:
        self._close_watch()
        super().close()  # type: ignore[no-untyped-call]


class EmbeddedTransport(kombu_sqlalchemy.Transport):
    """kombu's SQLAlchemy transport, looking for messages every 0.1 s instead of
    every second: a job sent to an idle embedded worker waited half a second on average, a
    whole one at worst. (The interval cannot go in the transport options: this transport
    hands them all to SQLAlchemy's ``create_engine``, which refuses the unknown one.) Its
    channels keep no delivered message (`EmbeddedChannel`)."""

    Channel = EmbeddedChannel
    polling_interval = 0.1

    def drain_events(self, connection: Any, timeout: float | None = None, **kwargs: Any) -> Any:
        """Wait for a message at most `DRAIN_SECONDS` at a time. Celery's worker loop (the
        blocking one, for transports that poll) asks for two seconds and looks for a stop
        only between waits: an embedded worker told to stop (``make run`` on Ctrl-C, the
        demo's worker when its user is ready) took two to four seconds to do so."""
        if timeout is not None:  # None: a caller that blocks until a message comes
            timeout = min(timeout, DRAIN_SECONDS)
        return super().drain_events(  # type: ignore[no-untyped-call]
            connection, timeout=timeout, **kwargs
        )


DRAIN_SECONDS = 0.25
"""The longest an embedded worker waits for a message before looking whether to stop."""

EMBEDDED = "flint-sqla"
"""The URL scheme prefix of the embedded broker (`EmbeddedTransport`)."""
TRANSPORT_ALIASES[EMBEDDED] = f"{__name__}:EmbeddedTransport"


def broker_url(settings: Settings) -> str:
    """The configured broker, else the embedded one (its directory is made by the runtime of
    whatever process uses it: importing this module creates nothing)."""
    if settings.broker_url:
        return settings.broker_url
    path = (settings.data_dir / "broker.db").resolve()
    return f"{EMBEDDED}+sqlite:///{path}"


def prepare_broker(settings: Settings) -> None:
    """Create the embedded broker's file owner-only before kombu creates it (queued jobs name
    users and addresses); nothing for a configured broker."""
    if not settings.broker_url:
        private_file(settings.data_dir / "broker.db")


class PromptConnection(Connection):
    """kombu's connection, trying again every second at most while the broker is away: kombu's
    own schedule waits 2 s longer after each failed try (up to 30 s), so a worker took 10 s to
    notice RabbitMQ was back."""

    def ensure_connection(self, *args: Any, **kwargs: Any) -> PromptConnection:
        kwargs.setdefault("interval_start", 0.5)
        kwargs.setdefault("interval_step", 0.5)
        kwargs.setdefault("interval_max", 1.0)
        super().ensure_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        return self


class _PromptAMQP(AMQP):  # type: ignore[misc]
    Connection = PromptConnection


def create_celery(settings: Settings) -> Celery:
    """The app every process publishes with; the worker adds its task modules and schedule."""
    app = Celery(
        "flint", broker=broker_url(settings), backend=settings.result_backend, amqp=_PromptAMQP
    )
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
        # Workers and beat wait for the broker however long it is away (a try a second), rather
        # than exiting after 100 tries.
        broker_connection_max_retries=None,
        task_default_queue=settings.task_queue,
        worker_hijack_root_logger=False,
    )
    return app


celery_app = create_celery(get_settings())


# --- sending ---------------------------------------------------------------------------------


REQUEST_ID_HEADER = "flint_request_id"
"""The message header carrying the id of the request (or task) that sent it."""

RELAY = "flint.jobs.relay"
RELAY_AFTER = timedelta(seconds=3)
"""A hand-off is over within milliseconds of its commit: one still owed this long after it
was enqueued has failed, and `relay` sends it again."""
RELAY_BATCH = 100


def send(name: str, *args: str, request_id: str | None = None) -> None:
    """Publish the task ``name`` now (blocking I/O in kombu: from a task, or a thread), with
    the id of the request that sent it (by default the current one), which the task then logs
    and reports its errors under."""
    request_id = request_id or correlation_id.get()
    headers = {REQUEST_ID_HEADER: request_id} if request_id else None
    celery_app.send_task(name, args=list(args), headers=headers)


def warm_sending(app: Celery = celery_app) -> None:
    """Make now what this process's first `send` would otherwise make: Celery's result backend
    (looked up among every installed package's entry points) and its routing, and on the
    embedded broker the channel and the declared queue (kombu builds two ORM classes and
    creates the broker file's tables). That was 50-70 ms of CPU on the thread of the first
    request that enqueued a job after a start, holding the interpreter lock the event loop
    needs: each request the process answered meanwhile waited up to a lock switch (5 ms) at
    a time. A broker of its own (RabbitMQ) is not connected to here: it may be away, and its
    connection waits for the first send as before. A failure here only leaves the work to the
    first send (which reports its own), and the process starts all the same."""
    try:
        app.backend  # noqa: B018 - built on first access
        queue = app.amqp.queues[app.conf.task_default_queue]
        if str(app.conf.broker_url).startswith(EMBEDDED):
            with app.producer_or_acquire() as producer:
                producer.maybe_declare(queue)
    except Exception as exc:
        log.warning("task_sending_not_warmed", error=str(exc))


async def send_async(name: str, *args: str, request_id: str | None = None) -> None:
    """`send` from the event loop, on a worker thread."""
    await anyio.to_thread.run_sync(partial(send, name, *args, request_id=request_id))


def enqueue(session: AsyncSession, name: str, *args: str) -> None:
    """Publish the task ``name`` once ``session`` has committed; never if it rolls back. The
    job is kept in the same transaction until the broker has it (see `relay`)."""
    outgoing = session.info.get(_OUTGOING)
    if not isinstance(outgoing, _Outgoing) or outgoing.send not in session.info.get(
        AFTER_COMMIT, ()
    ):
        outgoing = session.info[_OUTGOING] = _Outgoing(session)
        after_commit(session, outgoing.send)
    outgoing.owed.append(handoffs.record(session, name, args, correlation_id.get()))


_OUTGOING = "flint.jobs.outgoing"


@dataclass(eq=False)
class _Outgoing:
    """The jobs a transaction enqueued, handed off together once it has committed."""

    session: AsyncSession
    owed: list[handoffs.JobHandoff] = field(default_factory=list)

    async def send(self) -> None:
        owed, self.owed = self.owed, []
        self.session.info.pop(_OUTGOING, None)
        sent = await _publish(owed, "job_handoff_failed")
        if not sent:
            return
        try:
            await handoffs.handed_off(self.session, sent)
            await self.session.commit()
        except Exception:  # the relay will send them once more: tasks are safe to run twice
            log.exception("job_handoff_not_recorded", jobs=len(sent))
            with contextlib.suppress(Exception):
                await self.session.rollback()


async def _publish(owed: Sequence[handoffs.JobHandoff], failure: str) -> list[uuid.UUID]:
    """Publish in order until the broker fails; the ids of those it took."""
    sent: list[uuid.UUID] = []
    for job in owed:
        try:
            await send_async(job.name, *job.args, request_id=job.request_id)
        except Exception as exc:
            log.warning(failure, task=job.name, error=str(exc), left=len(owed) - len(sent))
            break
        sent.append(job.id)
    return sent


async def relay(session: AsyncSession, older_than: timedelta = RELAY_AFTER) -> int:
    """Hand off again every job still owed ``older_than`` after it was enqueued (its first
    hand-off failed); returns how many the broker took. Each batch is one transaction: its
    jobs locked on PostgreSQL (another relay skips them), deleted once sent."""
    relayed = 0
    while True:
        owed = await handoffs.overdue(session, older_than, RELAY_BATCH)
        sent = await _publish(owed, "job_relay_failed")
        await handoffs.handed_off(session, sent)
        await session.commit()
        relayed += len(sent)
        if len(sent) < RELAY_BATCH:
            if relayed:
                log.info("jobs_relayed", jobs=relayed)
            return relayed


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
