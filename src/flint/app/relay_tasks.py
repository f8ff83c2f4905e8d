"""Handing off again the jobs whose first hand-off to the broker failed (`flint.jobs.relay`):
the task, and the worker's step that sends it each time the worker connects to the broker
(at start, and again after the broker was away), so what was committed meanwhile goes out
within seconds of a worker being able to take it, not at the next sweep."""

from __future__ import annotations

from typing import Any

import structlog
from celery import bootsteps

from flint import jobs
from flint.jobs import celery_app, run_async, runtime

log = structlog.get_logger("flint.worker")


@celery_app.task(name=jobs.RELAY)
def relay() -> int:
    async def _run() -> int:
        async with runtime().sessions() as session:
            return await jobs.relay(session)

    return run_async(_run())


class RelayOnConnect(bootsteps.StartStopStep):  # type: ignore[misc]
    """Started with the worker's consumer each time it (re)connects: relay what is owed now,
    and once more when the hand-offs that failed as the broker returned are owed too."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def start(self, c: Any) -> None:
        later = jobs.RELAY_AFTER.total_seconds() + 1
        try:
            c.app.send_task(jobs.RELAY)
            c.app.send_task(jobs.RELAY, countdown=later, expires=later + 60)
        except Exception:  # beat's relay every half minute sends them too: the worker goes on
            log.exception("job_relay_not_sent")
