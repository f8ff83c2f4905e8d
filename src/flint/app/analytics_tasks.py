"""The task that sends one analytics event (`flint.analytics.track`) to Mixpanel with the
official library; a send that fails is retried with backoff a few times, then dropped with a
log line (an event is worth less than a worker kept busy, or a user's action failed)."""

from __future__ import annotations

import json
from typing import Any

import structlog
from celery import Task
from mixpanel import Consumer, Mixpanel, MixpanelException

from flint.analytics import TASK, safe_properties
from flint.config import Settings
from flint.jobs import celery_app, process

log = structlog.get_logger("flint.analytics")


def client(settings: Settings) -> Mixpanel | None:
    """A Mixpanel client sending one event per request, without retries of its own (the task
    retries); None when analytics is off."""
    if settings.mixpanel_token is None:
        return None
    consumer = Consumer(
        events_url=settings.mixpanel_events_url,
        api_host=settings.mixpanel_api_host,
        request_timeout=settings.vendor_read_timeout,
        retry_limit=0,
    )
    return Mixpanel(settings.mixpanel_token.get_secret_value(), consumer=consumer)


@celery_app.task(name=TASK, bind=True, max_retries=None)
def send(self: Task, message: str) -> str:
    settings = process.settings()
    mixpanel = client(settings)
    if mixpanel is None:
        return "analytics is off"
    event: dict[str, Any] = json.loads(message)
    properties = {
        **safe_properties(event["properties"]),
        "time": event["time"],
        "$insert_id": event["insert_id"],
    }
    try:
        mixpanel.track(event["distinct_id"], event["event"], properties)
    except (MixpanelException, KeyError) as exc:  # KeyError: a JSON answer without `status`
        if self.request.retries >= settings.mixpanel_send_attempts - 1:
            log.warning(
                "analytics event dropped",
                analytics_event=event["event"],
                attempts=self.request.retries + 1,
                error=str(exc),
            )
            return "dropped"
        delay = settings.mixpanel_retry_seconds * 2**self.request.retries
        raise self.retry(countdown=delay) from exc
    return "sent"
