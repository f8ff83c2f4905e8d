"""Every Prometheus metric Flint keeps, in one base-level module any feature may import.

Flint runs several processes (API workers, Celery workers), so the metrics use
prometheus-client's multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set before this
module is first imported (`flint run`, `flint serve` and `flint worker` set it, see
`flint.app.cli`): each process writes its values to files there and
``GET /metrics`` sums them. Without it (tests, an app built in-process) the values live in
this process's default registry.

Adding a metric: define it here (name ``flint_<what>_<unit>``, counters end in ``_total``,
labels of bounded cardinality only), then count where it happens, e.g.
``WS_SLOW_DROPS.inc()``. Gauges need a ``multiprocess_mode``.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client import multiprocess as _multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"
"""The route label of a request no route matched, so random URLs add no label values."""

# --- HTTP -----------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "flint_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "flint_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_IN_FLIGHT = Gauge(
    "flint_http_requests_in_flight",
    "HTTP requests being handled now (summed over the live API processes).",
    multiprocess_mode="livesum",
)

# --- background tasks -----------------------------------------------------------------------
TASKS = Counter(
    "flint_tasks_total",
    "Celery tasks that finished, by task name and final state (SUCCESS, FAILURE, RETRY, ...).",
    ["task", "state"],
)
TASK_FAILURES = Counter(
    "flint_task_failures_total",
    "Celery tasks that raised, by task name and exception class.",
    ["task", "exception"],
)
TASK_DURATION = Histogram(
    "flint_task_duration_seconds",
    "Time a Celery task ran, by task name.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)

# --- vendors --------------------------------------------------------------------------------
VENDOR_REQUESTS = Counter(
    "flint_vendor_requests_total",
    "Calls to an outside vendor through the vendor HTTP client (retries included in one call), "
    "by vendor and outcome: ok, throttled, unavailable, circuit_open, error.",
    ["provider", "outcome"],
)
VENDOR_DURATION = Histogram(
    "flint_vendor_request_duration_seconds",
    "Time a vendor call took, retries and backoff included, by vendor.",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
VENDOR_BREAKER_OPEN = Gauge(
    "flint_vendor_circuit_open",
    "1 while a process's circuit breaker for the vendor is open (or half-open), else 0; the "
    "maximum over live processes.",
    ["provider"],
    multiprocess_mode="livemax",
)
MARKET_PROVIDER_CALLS = Counter(
    "flint_market_provider_calls_total",
    "Questions put to a market-data provider of the failover chain, by provider and outcome: "
    "ok, not_found, error (the next provider is asked).",
    ["provider", "outcome"],
)

# --- cache ----------------------------------------------------------------------------------
CACHE_LOOKUPS = Counter(
    "flint_cache_lookups_total",
    "Reads of the shared cache, by key namespace (quote, principal, ...) and result: hit, miss.",
    ["namespace", "result"],
)

# --- quote stream (WebSocket) ---------------------------------------------------------------
WS_CONNECTIONS = Gauge(
    "flint_ws_connections",
    "Open quote-stream WebSocket connections (summed over the live API processes).",
    multiprocess_mode="livesum",
)
WS_SLOW_DROPS = Counter(
    "flint_ws_slow_client_drops_total",
    "Quote-stream clients disconnected because their send queue filled up.",
)

# --- rate limits ----------------------------------------------------------------------------
RATE_LIMIT_FALLBACKS = Counter(
    "flint_rate_limit_fallback",
    "Times the rate-limit counters left Redis (unreachable or failing) for process memory.",
)
"""Exposed as `flint_rate_limit_fallback_total` (`flint.kit.ratelimit`: once per outage)."""
RATE_LIMIT_IN_FALLBACK = Gauge(
    "flint_rate_limit_fallback_active",
    "1 while an API process counts rate limits in its own memory because Redis fails.",
    multiprocess_mode="livemax",
)


def multiprocess_dir() -> Path | None:
    """The directory the processes share their values through, when multiprocess mode is on."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def mark_process_dead(pid: int | None = None) -> None:
    """Drop an exiting process's live gauges (in-flight requests, connections, open breakers)
    from the shared directory; its counters stay, so totals never go down."""
    path = multiprocess_dir()
    if path is not None and path.is_dir():
        _multiprocess.mark_process_dead(pid if pid is not None else os.getpid(), str(path))  # type: ignore[no-untyped-call]
