"""The Celery worker's side of the composition root: every feature's task modules, the periodic
schedule, and the runtime each worker process builds (`flint.jobs` runs the tasks on it).

Only workers import task modules; every other process sends tasks by name (`flint.jobs`).
"""

from __future__ import annotations

import importlib
import logging
import warnings
from contextvars import Token
from typing import Any

import structlog
from asgi_correlation_id import correlation_id
from celery import Celery, Task
from celery.apps.worker import Worker, _shutdown_handler, on_cold_shutdown
from celery.exceptions import SecurityWarning
from celery.platforms import EX_FAILURE
from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_shutting_down,
)

from flint import jobs
from flint.app.metrics import count_tasks
from flint.app.relay_tasks import RelayOnConnect
from flint.app.runtime import build_runtime, settle_heap, warm_process
from flint.app.sentry import init_sentry
from flint.config import Settings, get_settings
from flint.kit.heap import collector_paused
from flint.kit.logging import configure_logging
from flint.runtime import Runtime

log = structlog.get_logger("flint.worker")

TASK_MODULES = [
    "flint.auth.tasks",
    "flint.notifications.tasks",
    "flint.market.tasks",
    "flint.accounts.tasks",
    "flint.accounts.webhook_tasks",
    "flint.trades.tasks",
    "flint.reports.tasks",
    "flint.portfolio.tasks",
    "flint.billing.tasks",
    "flint.app.analytics_tasks",
    "flint.app.relay_tasks",
]


def schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "jobs-relay": {
            "task": jobs.RELAY,
            "schedule": 30.0,
            "options": {"expires": 30},
        },
        "notifications-resend-stale": {
            "task": "flint.notifications.resend_stale",
            "schedule": 60.0,
        },
        "trades-sweep": {
            "task": "flint.trades.sweep",
            "schedule": 30.0,
            "options": {"expires": 30},
        },
        "imports-sweep": {
            "task": "flint.portfolio.sweep_imports",
            "schedule": 60.0,
            "options": {"expires": 60},
        },
        "reports-sweep": {
            "task": "flint.reports.sweep",
            "schedule": 60.0,
            "options": {"expires": 60},
        },
        "billing-sweep": {
            "task": "flint.billing.sweep",
            "schedule": 300.0,
            "options": {"expires": 300},
        },
        "accounts-sweep-snaptrade-webhooks": {
            "task": "flint.accounts.sweep_snaptrade_webhooks",
            "schedule": 300.0,
            "options": {"expires": 300},
        },
        "auth-prune": {
            "task": "flint.auth.prune",
            "schedule": 24 * 3600.0,
            "options": {"expires": 3600},
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
    }


def _build(settings: Settings) -> Runtime:
    return build_runtime(settings, "worker")


def configure(settings: Settings | None = None) -> Celery:
    """Make this process a worker: its tasks registered, its schedule set, and its runtime
    built from ``settings`` (the environment's when None) on first use; what an earlier
    configuration built is closed first (a test running a worker inside its own process)."""
    celery_app = jobs.celery_app
    celery_app.Worker = celery_app.subclass_with_self(QuietWorker)
    celery_app.conf.update(include=TASK_MODULES, beat_schedule=schedule(settings or get_settings()))
    for module in TASK_MODULES:
        importlib.import_module(module)
    celery_app.steps["consumer"].add(RelayOnConnect)
    jobs.prepare_broker(settings or get_settings())
    jobs.process.use(_build, settings)
    init_sentry(settings or get_settings(), "worker")
    # Celery warns at every start of a worker running as root, for the sake of pickled
    # messages, which would let whoever can publish run code; Flint's accept only JSON.
    warnings.filterwarnings("ignore", category=SecurityWarning)
    setup_logging.connect(_setup_logging, weak=False, dispatch_uid="flint.logging")
    task_prerun.connect(_bind_request_id, weak=False, dispatch_uid="flint.request_id")
    task_postrun.connect(_unbind_request_id, weak=False, dispatch_uid="flint.request_id")
    worker_shutting_down.connect(_log_shutdown, weak=False, dispatch_uid="flint.shutdown")
    worker_init.connect(_warm, weak=False, dispatch_uid="flint.warm")
    count_tasks()
    return celery_app


def _warm(**_: Any) -> None:
    """Before the pool starts, in the worker's main process: `warm_process`, then the heap
    that made settled (`settle_heap`) unless the settings say not to (a test's worker runs in
    the test's own process). What the warming makes lives as long as the process: it runs with
    the collector paused."""
    with collector_paused():
        warm_process()
        if jobs.process.settings().freeze_heap:
            settle_heap()


def _setup_logging(loglevel: int | str | None = None, **_: Any) -> None:
    """The worker logs as the API does (one JSON line per record, `flint.kit.logging`), rather
    than in Celery's own format; a receiver of this signal keeps Celery's logging set-up off."""
    settings = jobs.process.settings()
    level = loglevel if isinstance(loglevel, str) else None
    if isinstance(loglevel, int):
        level = logging.getLevelName(loglevel)
    configure_logging(level or settings.log_level, settings.log_format)


class QuietWorker(Worker):  # type: ignore[misc]
    """Celery's worker, whose stop signals say what they do in a log line like every other
    instead of printing "worker: Warm shutdown (MainProcess)" and "Hitting Ctrl+C again..."
    to stdout. The handlers are Celery's own, installed without their print: SIGTERM and
    SIGINT stop warmly (a second SIGINT coldly, as in Celery), SIGQUIT coldly."""

    def install_platform_tweaks(self, worker: Any) -> None:
        super().install_platform_tweaks(worker)
        _shutdown_handler(worker, sig="SIGTERM", how="Warm", verbose=False)
        _shutdown_handler(worker, sig="SIGINT", callback=_cold_on_second_sigint, verbose=False)
        _shutdown_handler(
            worker,
            sig="SIGQUIT",
            how="Cold",
            callback=on_cold_shutdown,
            exitcode=EX_FAILURE,
            verbose=False,
        )


def _cold_on_second_sigint(worker: Any) -> None:
    _shutdown_handler(
        worker,
        sig="SIGINT",
        how="Cold",
        callback=on_cold_shutdown,
        exitcode=EX_FAILURE,
        verbose=False,
    )


def _log_shutdown(sig: str, how: str, **_: Any) -> None:
    log.info(f"{how} shutdown", signal=sig)  # "Warm shutdown": it finishes its tasks first


_bound: dict[str, Token[str | None]] = {}


def _bind_request_id(task_id: str, task: Task, **_: Any) -> None:
    """A task logs and reports errors under the id of the request that enqueued it
    (`flint.jobs.send` puts it in the message's headers)."""
    _bound[task_id] = correlation_id.set(getattr(task.request, jobs.REQUEST_ID_HEADER, None))


def _unbind_request_id(task_id: str, **_: Any) -> None:
    token = _bound.pop(task_id, None)
    if token is not None:
        correlation_id.reset(token)
