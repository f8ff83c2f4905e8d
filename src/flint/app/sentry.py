"""Error tracking with Sentry, on only when `FLINT_SENTRY_DSN` is set.

Each process (the API, a worker) calls `init_sentry` once as it starts. The SDK's FastAPI,
Starlette and Celery integrations report unhandled errors of requests and tasks; every event
carries the request id the access log and the problem responses carry (`X-Request-ID`, which a
task inherits from the request that enqueued it), and passes through `flint.kit.scrub` before
it leaves: bodies, headers, query strings, breadcrumbs and local variables lose their secrets.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from asgi_correlation_id import correlation_id

from flint import __version__
from flint.config import Settings
from flint.kit.scrub import scrub
from flint.runtime import Role

if TYPE_CHECKING:
    from sentry_sdk.types import Event, Hint


def before_send(event: Event, _: Hint) -> Event:
    """The event with the request id as a tag and its secrets removed."""
    request_id = correlation_id.get()
    if request_id:
        tags = event.get("tags")
        if not isinstance(tags, dict):
            tags = {}
        event["tags"] = {**tags, "request_id": request_id}
    scrubbed: Event = scrub(event)
    return scrubbed


def before_breadcrumb(crumb: dict[str, Any], _: Hint) -> dict[str, Any]:
    """Breadcrumbs (log lines, HTTP calls to vendors) without their secrets."""
    scrubbed: dict[str, Any] = scrub(crumb)
    return scrubbed


def init_sentry(settings: Settings, role: Role) -> bool:
    """Start reporting this process's errors when a DSN is configured; whether it did."""
    if not settings.sentry_dsn:
        return False
    # Imported only here: the SDK and what it brings (urllib3) are a tenth of a second of every
    # process's start, and most deployments run without Sentry.
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.fastapi import FastApiIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment or settings.env,
        release=settings.sentry_release or f"flint@{__version__}",
        traces_sample_rate=settings.sentry_traces_sample_rate,
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        integrations=[
            StarletteIntegration(),
            FastApiIntegration(),
            CeleryIntegration(monitor_beat_tasks=False),
        ],
    )
    sentry_sdk.set_tag("process", role)
    _trace_tasks_already_loaded()
    return True


def _trace_tasks_already_loaded() -> None:
    """The Celery integration wraps `celery.app.trace.build_tracer`; a worker consumer module
    imported before `init_sentry` (a worker started inside a test process) holds the
    unwrapped function, and its tasks' errors would go unreported."""
    consumer = sys.modules.get("celery.worker.consumer.consumer")
    if consumer is not None:
        from celery.app import trace

        consumer.build_tracer = trace.build_tracer  # type: ignore[attr-defined]
