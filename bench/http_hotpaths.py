"""``http_hotpaths``: Flint's hot HTTP routes against the framework's own ceiling, in one run.

The baseline is a bare FastAPI app (``bench._bare``: one ``GET /ok``, no middleware) served by
the same uvicorn settings; a bare Starlette app is measured too, to show what FastAPI itself
costs. Flint is served as ``flint serve`` serves it (``bench._common.uvicorn_server``) with
production settings (``FLINT_ENV=production``, warnings-only JSON logs, every production
middleware on: security headers, trusted hosts, rate limits, request metrics in Prometheus'
multiprocess mode), the simulated market and the quote cached, plus ``GET /bench/ok`` on the
same app instance (``bench._server``), a route that does nothing behind all the middleware.

Cores: the server process is pinned to core 0 and wrk (one thread, ``CONNECTIONS``
connections) to core 1. PostgreSQL's backends are not pinned; they take their share of either.

Routes, each ``SECONDS`` measured after ``WARMUP``, the FastAPI baseline measured before and
after the Flint routes of each database (the mean is the baseline, so drift favours nobody):

* ``healthz``: ``GET /healthz`` (target ≥ 0.8x bare FastAPI);
* ``ok``: ``GET /bench/ok`` inside Flint's app (≥ 0.6x);
* ``quote``: a cached ``GET /api/v1/market/real-time/AAPL`` with a bearer token (≥ 0.5x);
* authenticated reads that touch the database (each ≥ 0.3x, and p99 ≤ ``P99_MS`` ms):
  ``watchlist`` (``GET /api/v1/watchlist/{userId}``, 5 items), ``portfolios``
  (``GET /api/v1/portfolio/``, 3 portfolios), ``trades`` (``GET /api/v1/trades``, none: the
  sandbox trades only through a Celery worker, which the bench does not run) and
  ``notifications`` (``GET /api/v1/notifications``, the inbox page and its unread count).

All of it on SQLite (as ``make run``) and on PostgreSQL. Then, on PostgreSQL, the watchlist
read with ``--workers 2`` against one process, nothing pinned (server processes, PostgreSQL
and wrk share both cores; wrk with one thread): ``http_hotpaths.postgresql.workers``, target
≥ 1.6x. Its details say what a request cost the whole machine with two processes (the API's
CPU, wrk's, and the rest: PostgreSQL's backends and the kernel) and the ratio that cost allows
with every core busy. With one process the API is the limit (one core); with two, all of it
shares the cores, so two processes reach 1.6x only where the API costs at least four times
what PostgreSQL and wrk cost a request together.

Entries: ``http_hotpaths.<database>.<route>`` (requests/s; ratio to bare FastAPI), and the p99
targets as ``….<route>.p99`` (ratio = ``P99_MS`` / p99, so ≥ 1 means within the bound).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import URL

from bench._bare import PATH as BARE_PATH
from bench._common import (
    HIGH_RATE_LIMITS,
    PASSWORD,
    Result,
    Server,
    Skipped,
    flint_env,
    migrate,
    postgres_database,
    run_async,
    say,
    scratch_dir,
    uvicorn_server,
)
from bench._loadgen import Load, drive, require_wrk
from bench._server import BARE_PATH as FLINT_OK_PATH

NAME = "http_hotpaths"
CONNECTIONS = int(os.environ.get("FLINT_BENCH_CONNECTIONS", "32"))
SECONDS = float(os.environ.get("FLINT_BENCH_SECONDS", "6"))
WARMUP = float(os.environ.get("FLINT_BENCH_WARMUP", "2"))
SERVER_CPU = "0"
LOAD_CPU = "1"
P99_MS = 50.0
MAX_FAILURES = 0.001
"""Share of failed requests (non-2xx or socket errors) tolerated before the run is an error."""

TARGETS = {
    "healthz": 0.8,
    "ok": 0.6,
    "quote": 0.5,
    "watchlist": 0.3,
    "portfolios": 0.3,
    "trades": 0.3,
    "notifications": 0.3,
}
READS = ("watchlist", "portfolios", "trades", "notifications")
WATCHED = ("AAPL", "MSFT", "VTI", "BTC-USD", "NVDA")
PORTFOLIOS = ("Retirement", "Taxable", "Kids")
"""The caller's data (`_set_up`): what the watchlist and portfolio list reads answer."""
WORKERS_TARGET = 1.6


@dataclass
class Caller:
    token: str
    user_id: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def paths(self) -> dict[str, tuple[str, dict[str, str]]]:
        return {
            "healthz": ("/healthz", {}),
            "ok": (FLINT_OK_PATH, {}),
            "quote": ("/api/v1/market/real-time/AAPL", self.auth),
            "watchlist": (f"/api/v1/watchlist/{self.user_id}", self.auth),
            "portfolios": ("/api/v1/portfolio/", self.auth),
            "trades": ("/api/v1/trades", self.auth),
            "notifications": ("/api/v1/notifications", self.auth),
        }


def run() -> list[Result]:
    require_wrk()
    if (os.cpu_count() or 1) < 2:
        raise RuntimeError("http_hotpaths pins the server and wrk to two different cores")
    with scratch_dir("flint-bench-http-") as data:
        ceilings = _ceilings(data)
        say(
            f"bare starlette {ceilings['starlette'].rps:.0f} req/s, "
            f"bare fastapi {ceilings['fastapi'].rps:.0f} req/s"
        )
        results = _on_database(data / "sqlite", None)
        try:
            results += run_async(_on_postgresql(data / "postgresql"))
        except Skipped as skip:
            say(f"postgresql skipped: {skip}")
            results[0].details.setdefault("notes", []).append(f"not run on PostgreSQL: {skip}")
    for result in results:
        result.details["bare_starlette"] = ceilings["starlette"].as_json()
        result.details["bare_fastapi_before_flint"] = ceilings["fastapi"].as_json()
    return results


def _ceilings(data: Path) -> dict[str, Load]:
    found: dict[str, Load] = {}
    for name in ("starlette", "fastapi"):
        with uvicorn_server(f"bench._bare:{name}", flint_env(data), data, cpus=SERVER_CPU) as s:
            found[name] = _load(s, BARE_PATH, {})
    return found


async def _on_postgresql(data: Path) -> list[Result]:
    async with postgres_database() as url:
        return _on_database(data, url)


def server_env(data: Path, database: URL | None) -> dict[str, str]:
    """The settings the hot paths are served with: SQLite in ``data`` (migrated) unless
    ``database`` names a PostgreSQL one, the quote cached for the run, rate limits counted."""
    overrides = {"quote_ttl_seconds": "3600", **HIGH_RATE_LIMITS}
    if database is not None:
        overrides["database_url"] = database.render_as_string(hide_password=False)
    env = flint_env(data, **overrides)
    if database is None:
        migrate(env, data)
    return env


def _on_database(data: Path, database: URL | None) -> list[Result]:
    backend = "sqlite" if database is None else "postgresql"
    say(backend)
    data.mkdir(mode=0o700, exist_ok=True)
    env = server_env(data, database)
    loads: dict[str, Load] = {}
    with uvicorn_server("bench._bare:fastapi", env, data, cpus=SERVER_CPU) as bare:
        before = _load(bare, BARE_PATH, {})
    with uvicorn_server("bench._server:create", env, data, cpus=SERVER_CPU) as server:
        caller = _set_up(server.url)
        for route, (path, headers) in caller.paths().items():
            loads[route] = _load(server, path, headers)
            say(f"{route}: {loads[route].rps:.0f} req/s, p99 {loads[route].p99_ms} ms")
    with uvicorn_server("bench._bare:fastapi", env, data, cpus=SERVER_CPU) as bare:
        after = _load(bare, BARE_PATH, {})
    baseline = before.merged(after)
    say(f"bare fastapi {before.rps:.0f} → {after.rps:.0f} req/s")
    results = []
    for route, load in loads.items():
        name = f"{NAME}.{backend}.{route}"
        results.append(_result(name, route, load, baseline))
        if route in READS:
            results.append(_p99(name, load))
    if database is not None:
        results.append(_workers(data, env, caller))
    for result in results:
        result.details["database"] = backend
    return results


def _result(name: str, route: str, load: Load, baseline: Load) -> Result:
    return Result(
        name=name,
        value=round(load.rps, 1),
        unit="req/s",
        baseline=round(baseline.rps, 1),
        ratio=round(load.rps / baseline.rps, 3),
        target=TARGETS[route],
        details={"route": route, "load": load.as_json(), "bare_fastapi": baseline.as_json()},
    )


def _p99(name: str, load: Load) -> Result:
    p99 = load.p99_ms or float("inf")
    return Result(
        name=f"{name}.p99",
        value=round(p99, 2),
        unit="ms p99",
        baseline=P99_MS,
        ratio=round(P99_MS / p99, 3),
        target=1.0,
        details={"meaning": f"{P99_MS:g} ms over the p99 at {CONNECTIONS} connections"},
    )


def _workers(data: Path, env: dict[str, str], caller: Caller) -> Result:
    """The watchlist read on one process and on two, nothing pinned."""
    path, headers = caller.paths()["watchlist"]
    loads: dict[int, Load] = {}
    for workers in (1, 2):
        with uvicorn_server("bench._server:create", env, data, workers=workers) as server:
            loads[workers] = _load(server, path, headers, cpus=None)
        say(f"watchlist, {workers} process(es): {loads[workers].rps:.0f} req/s")
    one, two = loads[1], loads[2]
    # With every core busy, two processes serve at most cores / (CPU a request costs the whole
    # machine): the API's, wrk's and the rest (PostgreSQL's backends, the kernel).
    per_request = two.machine_cpu_us_per_request
    ceiling = (os.cpu_count() or 1) * 1e6 / per_request / one.rps if one.rps else float("nan")
    say(
        f"two processes: {per_request:.0f} us of machine CPU a request "
        f"(API {two.server_cpu_us_per_request:.0f}), at most {ceiling:.2f}x one process"
    )
    return Result(
        name=f"{NAME}.postgresql.workers",
        value=round(two.rps, 1),
        unit="req/s",
        baseline=round(one.rps, 1),
        ratio=round(two.rps / one.rps, 3),
        target=WORKERS_TARGET,
        details={
            "route": "watchlist",
            "cores": "nothing pinned: the API processes, PostgreSQL and wrk (one thread) "
            "share both cores",
            "one_process": one.as_json(),
            "two_processes": two.as_json(),
            "machine_cpu_us_per_request": round(per_request, 1),
            "ceiling_with_every_core_busy": round(ceiling, 3),
        },
    )


def _load(
    server: Server, path: str, headers: dict[str, str], *, cpus: str | None = LOAD_CPU
) -> Load:
    load = drive(
        server.url + path,
        headers,
        server_pids=server.pids,
        connections=CONNECTIONS,
        seconds=SECONDS,
        warmup=WARMUP,
        cpus=cpus,
    )
    if load.errors + load.non_2xx > MAX_FAILURES * max(1, load.requests):
        raise RuntimeError(
            f"{path}: {load.non_2xx} non-2xx answers and {load.errors} socket errors "
            f"in {load.requests} requests"
        )
    return load


def _set_up(base_url: str) -> Caller:
    """A user with 5 watched symbols, 3 portfolios and a cached AAPL quote; every route the
    bench loads answers 200 once before it is loaded."""
    email = f"bench-{os.urandom(5).hex()}@example.com"
    body = {"email": email, "password": PASSWORD}
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        registered = _ok(client.post("/api/v1/auth/register", json=body), 201)
        token = _ok(client.post("/api/v1/auth/login", json=body), 200)["token"]
        caller = Caller(token=token, user_id=registered["userId"])
        for symbol in WATCHED:
            add = {"userId": caller.user_id, "asset": symbol}
            _ok(client.post("/api/v1/watchlist/add", json=add, headers=caller.auth), 201)
        for name in PORTFOLIOS:
            _ok(client.post("/api/v1/portfolio/", json={"name": name}, headers=caller.auth), 201)
        for path, headers in caller.paths().values():
            _ok(client.get(path, headers=headers), 200)
    return caller


def _ok(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()
