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

from asgi_correlation_id import correlation_id
from celery import Celery, Task
from celery.exceptions import SecurityWarning
from celery.signals import setup_logging, task_postrun, task_prerun

from flint import jobs
from flint.app.metrics import count_tasks
from flint.app.runtime import build_runtime
from flint.app.sentry import init_sentry
from flint.config import Settings, get_settings
from flint.kit.logging import configure_logging
from flint.runtime import Runtime

TASK_MODULES = [
    "flint.auth.tasks",
    "flint.notifications.tasks",
    "flint.market.tasks",
    "flint.accounts.tasks",
    "flint.accounts.webhook_tasks",
    "flint.trades.tasks",
    "flint.reports.tasks",
    "flint.billing.tasks",
    "flint.app.analytics_tasks",
]


def schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
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
    celery_app.conf.update(include=TASK_MODULES, beat_schedule=schedule(settings or get_settings()))
    for module in TASK_MODULES:
        importlib.import_module(module)
    jobs.prepare_broker(settings or get_settings())
    jobs.process.use(_build, settings)
    init_sentry(settings or get_settings(), "worker")
    # Celery warns at every start of a worker running as root, for the sake of pickled
    # messages, which would let whoever can publish run code; Flint's accept only JSON.
    warnings.filterwarnings("ignore", category=SecurityWarning)
    setup_logging.connect(_setup_logging, weak=False, dispatch_uid="flint.logging")
    task_prerun.connect(_bind_request_id, weak=False, dispatch_uid="flint.request_id")
    task_postrun.connect(_unbind_request_id, weak=False, dispatch_uid="flint.request_id")
    count_tasks()
    return celery_app


def _setup_logging(loglevel: int | str | None = None, **_: Any) -> None:
    """The worker logs as the API does (one JSON line per record, `flint.kit.logging`), rather
    than in Celery's own format; a receiver of this signal keeps Celery's logging set-up off."""
    settings = jobs.process.settings()
    level = loglevel if isinstance(loglevel, str) else None
    if isinstance(loglevel, int):
        level = logging.getLevelName(loglevel)
    configure_logging(level or settings.log_level, settings.log_format)


_bound: dict[str, Token[str | None]] = {}


def _bind_request_id(task_id: str, task: Task, **_: Any) -> None:
    """A task logs and reports errors under the id of the request that enqueued it
    (`flint.jobs.send` puts it in the message's headers)."""
    _bound[task_id] = correlation_id.set(getattr(task.request, jobs.REQUEST_ID_HEADER, None))


def _unbind_request_id(task_id: str, **_: Any) -> None:
    token = _bound.pop(task_id, None)
    if token is not None:
        correlation_id.reset(token)
