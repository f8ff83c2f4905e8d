"""``ws_fanout.cluster``: quotes fanned out to 10,000 WebSocket clients of two API processes
through Redis pub/sub, the way a multi-process deployment streams (part of ``ws_fanout``).

Two uvicorn processes serve the same Flint app as the single-process case (``bench.ws_fanout:
create``, SQLite in one scratch data directory) with ``FLINT_REDIS_URL`` set (Redis at
``FLINT_BENCH_REDIS_URL``, default ``redis://127.0.0.1:6379/15``, a database of its own) and a
channel of its own, so each process's hub subscribes to it. ``CLUSTER_SWARMS`` client processes
(the swarm of :mod:`bench.ws_fanout`) open ``CLUSTER_CLIENTS`` connections in all, alternating
between the two processes, each subscribed to BTC-USD. ``CLUSTER_QUOTES`` quotes are then
published through the first process only (``POST /bench/publish``, ``CLUSTER_RATE`` per
second), so every quote travels API process → Redis → both processes' hubs → their clients,
and the p99 publish → receive latency over all deliveries is reported.

Informational (``target=None``): there is no direct-send counterpart across processes to divide
by. On the 2-core bench machine the two servers, the client processes and Redis all share the
two cores; the details give each server's and the clients' CPU use so the figure can be read
with that in mind.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from contextlib import ExitStack
from typing import Any

import httpx

from bench._common import (
    Result,
    Server,
    Skipped,
    flint_env,
    migrate,
    percentile,
    say,
    scratch_dir,
    sign_up,
    uvicorn_server,
)
from bench.ws_fanout import (
    FLINT_WS_PATH,
    PUBLISH_PATH,
    QUEUE_SIZE,
    SYMBOL,
    _raise_file_limit,
    _SwarmProcess,
)

NAME = "ws_fanout.cluster"
CLUSTER_CLIENTS = int(os.environ.get("FLINT_BENCH_WS_CLUSTER_CLIENTS", "10000"))
CLUSTER_SWARMS = int(os.environ.get("FLINT_BENCH_WS_CLUSTER_SWARMS", "2"))
CLUSTER_QUOTES = int(os.environ.get("FLINT_BENCH_WS_CLUSTER_QUOTES", "20"))
CLUSTER_RATE = float(os.environ.get("FLINT_BENCH_WS_CLUSTER_RATE", "1"))
"""Quotes per second (``CLUSTER_RATE * CLUSTER_CLIENTS`` deliveries per second in all)."""
REDIS_URL = os.environ.get("FLINT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
"""A database of its own (15 by default): the servers cache the quotes they publish for an hour,
and a test on the same Redis must not read them; `_forget_quotes` removes them at the end."""
SERVERS = 2


def _redis_reachable() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except (redis.RedisError, OSError) as exc:
        raise Skipped(f"Redis unreachable at {REDIS_URL} ({type(exc).__name__}: {exc})") from exc


def _forget_quotes() -> None:
    """Remove the quotes the servers cached (`flint:quote:*`) from the bench's database."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    keys = list(client.scan_iter(match="flint:quote:*", count=1000))
    if keys:
        client.delete(*keys)


def run() -> Result:
    _raise_file_limit()
    load_before = os.getloadavg()[0]
    _redis_reachable()
    per_swarm = [
        CLUSTER_CLIENTS // CLUSTER_SWARMS + (i < CLUSTER_CLIENTS % CLUSTER_SWARMS)
        for i in range(CLUSTER_SWARMS)
    ]
    channel = f"flint:quotes:bench-{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack, scratch_dir("flint-bench-ws-cluster-") as data:
        stack.callback(_forget_quotes)
        swarms = [_SwarmProcess(n) for n in per_swarm]
        for swarm in swarms:
            stack.callback(swarm.close)
        env = flint_env(
            data,
            redis_url=REDIS_URL,
            stream_channel=channel,
            stream_poll_seconds="0",
            stream_ping_seconds="0",
            stream_queue_size=str(QUEUE_SIZE),
            quote_ttl_seconds="3600",
        )
        migrate(env, data)
        servers: list[Server] = [
            stack.enter_context(uvicorn_server("bench.ws_fanout:create", env, data))
            for _ in range(SERVERS)
        ]
        token = sign_up(servers[0].url)
        urls = [
            f"{s.url.replace('http://', 'ws://', 1)}{FLINT_WS_PATH}?token={token}" for s in servers
        ]
        for swarm in swarms:
            swarm.tell("connect " + " ".join(urls))
        connect_seconds = max(float(swarm.expect("connected ").split()[1]) for swarm in swarms)
        say(
            f"cluster: {CLUSTER_CLIENTS} clients over {SERVERS} API processes "
            f"({CLUSTER_SWARMS} client processes) connected and subscribed in "
            f"{connect_seconds:.1f} s"
        )
        for swarm in swarms:
            swarm.tell(f"phase {CLUSTER_QUOTES} raw")
            swarm.expect("armed")
        cpu0 = [s.cpu_seconds() for s in servers]
        wall0 = time.perf_counter()
        body = {"target": "flint", "count": CLUSTER_QUOTES, "interval": 1 / CLUSTER_RATE}
        with httpx.Client(base_url=servers[0].url, timeout=300.0) as http:
            answer = http.post(PUBLISH_PATH, json=body)
            answer.raise_for_status()
            published = answer.json()
        reports: list[dict[str, Any]] = []
        for swarm in swarms:
            swarm.expect("done")
            reports.append(json.loads(swarm.expect("report ")))
        wall = time.perf_counter() - wall0
        cpu = [s.cpu_seconds() - c for s, c in zip(servers, cpu0, strict=True)]
        for swarm in swarms:
            swarm.tell("disconnect")
            swarm.expect("disconnected")

    latencies = [x for report in reports for x in report.pop("latencies_ms")]
    deliveries = sum(r["deliveries"] for r in reports)
    expected = sum(r["expected"] for r in reports)
    closed = sum(r["closed"] for r in reports)
    if deliveries != expected or closed:
        raise RuntimeError(
            f"cluster: {deliveries} of {expected} delivered, {closed} connections closed"
        )
    last = max(r["last_delivery"] for r in reports)
    load = max(load_before, os.getloadavg()[0])
    cpus = os.cpu_count() or 1
    notes = (
        [f"load average {load:.1f} on {cpus} CPUs: other work competed, the figure is noisy"]
        if load > cpus
        else []
    )
    p99 = percentile(latencies, 0.99)
    say(
        f"cluster: {deliveries}/{expected} delivered, p99 {p99:.1f} ms, servers "
        + " and ".join(f"{c / wall:.0%}" for c in cpu)
        + f", clients {sum(r['client_cpu_seconds'] for r in reports) / wall:.0%} of a core"
    )
    return Result(
        name=NAME,
        value=round(p99, 2),
        unit="ms",
        baseline=None,
        ratio=None,
        target=None,
        details={
            "meaning": f"p99 publish → receive latency, {CLUSTER_QUOTES} quotes at "
            f"{CLUSTER_RATE:g}/s published through one of {SERVERS} API processes and fanned "
            f"out through Redis pub/sub to {CLUSTER_CLIENTS:,} clients spread over both "
            f"({CLUSTER_RATE * CLUSTER_CLIENTS:,.0f} deliveries/s)",
            "clients": CLUSTER_CLIENTS,
            "server_processes": SERVERS,
            "client_processes": CLUSTER_SWARMS,
            "broadcast": "Redis pub/sub",
            "cores": f"{os.cpu_count()} shared by the {SERVERS} servers, the "
            f"{CLUSTER_SWARMS} client processes and Redis",
            "symbol": SYMBOL,
            "deliveries": deliveries,
            "connect_seconds": connect_seconds,
            "publishing_s": round(published["returned"] - published["first"], 3),
            "first_publish_to_last_delivery_s": round(last - published["first"], 3),
            "latency_p50_ms": round(percentile(latencies, 0.50), 2),
            "latency_p90_ms": round(percentile(latencies, 0.90), 2),
            "latency_p99_ms": round(p99, 2),
            "latency_max_ms": round(max(latencies), 2),
            "server_cpu_busy": [round(c / wall, 3) for c in cpu],
            "client_cpu_busy": round(sum(r["client_cpu_seconds"] for r in reports) / wall, 3),
            "client_gc_seconds": round(sum(r["client_gc_seconds"] for r in reports), 3),
            "client_gc_longest_ms": round(max(r["client_gc_longest_ms"] for r in reports), 1),
            "notes": notes,
        },
    )
