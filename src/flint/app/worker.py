"""The Celery worker's side of the composition root: every feature's task modules, the periodic
schedule, and the runtime each worker process builds (`flint.jobs` runs the tasks on it).

Only workers import task modules; every other process sends tasks by name (`flint.jobs`).
"""

from __future__ import annotations

import importlib
from typing import Any

from celery import Celery

from flint import jobs
from flint.app.metrics import count_tasks
from flint.app.runtime import build_runtime
from flint.config import Settings, get_settings
from flint.runtime import Runtime

TASK_MODULES = [
    "flint.auth.tasks",
    "flint.notifications.tasks",
    "flint.market.tasks",
    "flint.accounts.tasks",
    "flint.trades.tasks",
    "flint.reports.tasks",
    "flint.billing.tasks",
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
    count_tasks()
    return celery_app
