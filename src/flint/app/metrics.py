"""Prometheus metrics, the app's side: the request middleware, the Celery task signals, and
``GET /metrics`` (loopback, or a bearer token from elsewhere).

The metrics themselves are defined in `flint.metrics`; with ``PROMETHEUS_MULTIPROC_DIR`` set,
``/metrics`` sums what every API and worker process wrote there.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import time
import weakref
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
from celery import signals
from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.types import Scope

from flint import metrics
from flint.app.ops import RuntimeDep
from flint.errors import Forbidden, Unauthorized
from flint.kit.cache import LOOKUPS
from flint.notifications.models import OutboxMessage

router = APIRouter(tags=["operations"])


class RequestCounts:
    """Counts, times and tracks every HTTP request by its route template (``/api/v1/
    portfolios/{portfolio_id}``), read from ``scope["route"]`` once routing has set it; a
    request no route matched is labelled ``<unmatched>``. `flint.app.edge.Edge` calls it.

    The counts gather in this object and reach the Prometheus metrics at most
    `FLUSH_SECONDS` later (`flush`: a timer on the serving loop, every ``/metrics`` answer of
    this process, and the app's shutdown). Updating the metrics on every request cost more
    than the rest of the edge layer: five writes to the multiprocess files (in flight up and
    down, the count, the histogram's sum and bucket), each under a lock. The in-flight gauge is
    moved by what changed since the last flush, so several apps in one process add up."""

    FLUSH_SECONDS = 1.0

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        self._timings: dict[tuple[str, str], list[float]] = {}
        """By route and method: the count of each histogram bucket, then the sum of times."""
        self._bounds = metrics.HTTP_DURATION._upper_bounds  # the same buckets
        self._in_flight = 0
        self._in_flight_shown = 0
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        _live.add(self)

    def started(self) -> None:
        self._in_flight += 1

    def finished(self, scope: Scope, status: int, elapsed: float) -> None:
        self._in_flight -= 1
        timed = (route_template(scope), scope["method"])
        counted = (*timed, status)
        self._counts[counted] = self._counts.get(counted, 0) + 1
        timing = self._timings.get(timed)
        if timing is None:
            timing = self._timings[timed] = [0.0] * (len(self._bounds) + 1)
        timing[bisect_left(self._bounds, elapsed)] += 1
        timing[-1] += elapsed
        loop = asyncio.get_running_loop()
        if self._timer_loop is not loop:  # none due on this loop (a closed one's never runs)
            self._timer_loop = loop
            loop.call_later(self.FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Write what was counted since the last flush to the metrics."""
        self._timer_loop = None
        counts, self._counts = self._counts, {}
        timings, self._timings = self._timings, {}
        for (route, method, status), count in counts.items():
            metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc(count)
        for labels, timing in timings.items():
            histogram = metrics.HTTP_DURATION.labels(*labels)
            for index, times in enumerate(timing[:-1]):
                if times:
                    histogram._buckets[index].inc(times)  # observe, n at once
            histogram._sum.inc(timing[-1])
        moved = self._in_flight - self._in_flight_shown
        if moved:
            metrics.HTTP_IN_FLIGHT.inc(moved)
            self._in_flight_shown += moved


_live: weakref.WeakSet[RequestCounts] = weakref.WeakSet()


def flush_request_counts() -> None:
    """Every app's request counts and the cache's lookups in this process, to the metrics now
    (before a scrape and at shutdown)."""
    for counts in list(_live):
        counts.flush()
    LOOKUPS.flush()


def route_template(scope: Scope) -> str:
    """The matched route's path template with its router's prefix (``/api/v1/auth/me``).

    FastAPI 0.16x puts the route as its router declared it (``/auth/me``, shared by the
    ``/api/v1`` and ``/api`` copies) in ``scope["route"]``, and the included copy, prefix and
    all, in its own part of the scope; ``tests/app/test_metrics.py`` pins this down."""
    context = scope.get("fastapi", {}).get("effective_route_context")
    if context is not None:
        path = getattr(context.starlette_route, "path_format", None) or context.path_format
        if path:
            return str(path)
    route = scope.get("route")
    return str(
        getattr(route, "path_format", None)
        or getattr(route, "path", None)
        or metrics.UNMATCHED_ROUTE
    )


# --- Celery tasks ---------------------------------------------------------------------------

_started: dict[str, float] = {}
"""When each running task began, by task id (a worker process runs few at a time)."""


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or "unknown")


def _on_prerun(task_id: str, **_: Any) -> None:
    _started[task_id] = time.perf_counter()


def _on_postrun(task_id: str, sender: Any = None, state: str | None = None, **_: Any) -> None:
    name = _task_name(sender)
    metrics.TASKS.labels(name, state or "UNKNOWN").inc()
    started = _started.pop(task_id, None)
    if started is not None:
        metrics.TASK_DURATION.labels(name).observe(time.perf_counter() - started)


def _on_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    metrics.TASK_FAILURES.labels(_task_name(sender), type(exception).__name__).inc()


def _on_process_exit(**_: Any) -> None:
    metrics.mark_process_dead()


def count_tasks() -> None:
    """Count every task this process runs (`flint.app.worker` calls it): Celery's signals fire
    in the process that runs the task, a prefork child included."""
    signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="flint-metrics-prerun")
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="flint-metrics-postrun")
    signals.task_failure.connect(_on_failure, weak=False, dispatch_uid="flint-metrics-failure")
    signals.worker_process_shutdown.connect(
        _on_process_exit, weak=False, dispatch_uid="flint-metrics-child-exit"
    )
    signals.worker_shutdown.connect(_on_process_exit, weak=False, dispatch_uid="flint-metrics-exit")


# --- GET /metrics ---------------------------------------------------------------------------


class _Computed(Collector):
    """Values worked out at scrape time (from the database), not counted as they happen."""

    def __init__(self, backlog: Mapping[str, int]) -> None:
        self.backlog = backlog

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "flint_outbox_backlog",
            "Notification messages (email, SMS) waiting in the outbox to be sent, by channel.",
            labels=["channel"],
        )
        for channel, count in sorted(self.backlog.items()):
            family.add_metric([channel], count)
        yield family


async def _outbox_backlog(runtime: Any) -> dict[str, int]:
    """One indexed count per scrape: the pending messages by channel."""
    query = (
        select(OutboxMessage.channel, func.count())
        .where(OutboxMessage.status == "pending")
        .group_by(OutboxMessage.channel)
    )
    async with runtime.readers() as session:
        rows = (await session.execute(query)).all()
    backlog = {"email": 0, "sms": 0}
    backlog.update((str(channel), int(count)) for channel, count in rows)
    return backlog


def render(backlog: Mapping[str, int]) -> bytes:
    """The exposition text: every process's values when multiprocess mode is on (summed by
    prometheus-client per each metric's mode), this process's otherwise."""
    path = metrics.multiprocess_dir()
    if path is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, str(path))  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    computed = CollectorRegistry()
    computed.register(_Computed(backlog))
    return generate_latest(registry) + generate_latest(computed)


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_access(request: Request, token: str | None) -> None:
    """Loopback callers may read; others need ``Authorization: Bearer <FLINT_METRICS_TOKEN>``
    (compared in constant time). Without a token configured, only loopback may."""
    if _is_loopback(request.client.host if request.client else None):
        return
    if token is None:
        raise Forbidden("Metrics are served to loopback only (set FLINT_METRICS_TOKEN).")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Unauthorized("Metrics need `Authorization: Bearer <FLINT_METRICS_TOKEN>`.")


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, runtime: RuntimeDep) -> Response:
    secret = runtime.settings.metrics_token
    check_access(request, secret.get_secret_value() if secret else None)
    flush_request_counts()
    backlog = await _outbox_backlog(runtime)
    body = await anyio.to_thread.run_sync(render, backlog)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
