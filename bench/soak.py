"""``soak``: mixed traffic at a fixed rate against the production topology, then a reconciliation.

Flint runs as ``deploy/compose.yaml`` runs it, minus the proxy and beat: two API processes
(``flint.app.main:create_app`` under uvicorn, as ``flint serve``, each on its own port) and one
``flint worker`` (``WORKER_PROCESSES`` prefork processes), on a scratch PostgreSQL database
(the sandbox institution on a second one), Redis (``FLINT_BENCH_SOAK_REDIS_URL``, database 12
by default) and RabbitMQ (``FLINT_BENCH_AMQP_URL``, a queue of the run's own). Production
settings; the rate limits stay on with budgets the run cannot spend (every request comes from
127.0.0.1), and uvicorn keeps idle connections ``KEEP_ALIVE`` s (its 5 s default would race the
paced connections' next request, a load-generator artefact; production has Caddy in front).
Without beat, nothing sweeps up a lost trade: each must reach its final state on its own.

Set-up: ``USERS`` users register and sign in, each links the sandbox (``always-open`` so orders
fill at any hour, ``fees-1``, $1,000,000 cash) and makes a portfolio for imports. Then, while
``FLINT_BENCH_SOAK_WS_CLIENTS`` (50) WebSocket subscribers (``bench._soak_ws``) stay connected,
the mix of ``bench._soak_traffic.ROUTES`` (reads, logins, market orders, 2-row CSV imports, one
wrk per route at its own fixed rate, one wrk thread per API process) runs for ``WARMUP``
seconds, then for ``SECONDS`` more while the RSS of each API process tree and of the worker
tree is read at the start, once a second and at the end (``bench._soak_memory``). Once the
worker has settled (no open trade, Flint's copy of every account equal to the broker's),
``bench._soak_reconcile`` checks the books, and ``bench._soak_logs`` reads the processes' logs
(error records; the worker's task times, in the reconciliation's details).

Entries:

* ``soak.errors``: failed requests (an unexpected status or a socket error, both phases), plus
  WebSocket disconnects, silent subscribers, quotes back in time and error records in the
  processes' logs; ratio 1 - failures / requests, target 1 (none).
* ``soak.memory.<api-1|api-2|worker>``: RSS at start over RSS at end (after the warm-up, then
  after the soak), target ≥ 1/1.1 (growth at most 10 %).
* ``soak.reconciliation``: mismatches found; ratio 1 when none, target 1.
* ``soak.<route>.p50`` / ``.p99``: latency per route in the measured period (wrk's histogram,
  both APIs), informational; ``soak.rate``: achieved requests/s over the target, informational.

Knobs: ``FLINT_BENCH_SOAK_SECONDS`` (60), ``FLINT_BENCH_SOAK_WARMUP`` (10),
``FLINT_BENCH_SOAK_USERS`` (8), ``FLINT_BENCH_SOAK_SCALE`` (1: every route's rate times this),
``FLINT_BENCH_SOAK_WS_CLIENTS`` (50), ``FLINT_BENCH_SOAK_REDIS_URL``, ``FLINT_BENCH_AMQP_URL``,
``FLINT_BENCH_POSTGRES_URL``, and ``FLINT_BENCH_SOAK_LOGS`` (a directory to keep the logs in).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from bench._common import (
    HIGH_RATE_LIMITS,
    PASSWORD,
    Result,
    Server,
    Skipped,
    asyncpg_dsn,
    expect,
    flint_env,
    flint_worker,
    postgres_database,
    run_async,
    say,
    scratch_dir,
    uvicorn_server,
)
from bench._loadgen import require_wrk
from bench._soak_logs import keep, logged_errors, worker_tasks
from bench._soak_memory import Memory, watched
from bench._soak_reconcile import Books, Reconciliation, reconcile, sandbox_books, settle
from bench._soak_traffic import IMPORT_ROWS, ROUTES, RouteLoad, SoakUser, drive_mix
from bench._soak_ws import Subscribers, subscribed

NAME = "soak"
SECONDS = float(os.environ.get("FLINT_BENCH_SOAK_SECONDS", "60"))
WARMUP = float(os.environ.get("FLINT_BENCH_SOAK_WARMUP", "10"))
USERS = int(os.environ.get("FLINT_BENCH_SOAK_USERS", "8"))
REDIS_URL = os.environ.get("FLINT_BENCH_SOAK_REDIS_URL", "redis://127.0.0.1:6379/12")
AMQP_URL = os.environ.get("FLINT_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
KEEP_LOGS = os.environ.get("FLINT_BENCH_SOAK_LOGS")
"""A directory to copy the processes' logs to (they go with the scratch directory otherwise)."""
API_PROCESSES = 2
WORKER_PROCESSES = 2
KEEP_ALIVE = 30.0
SETTLE_WITHIN = 120.0
MEMORY_GROWTH = 0.10
"""RSS may grow this much over the soak (noise: caches and allocator arenas filling up)."""
LINK_CODE = "soak-{tag}-{index}:always-open:fees-1:cash-1000000"


def run() -> list[Result]:
    require_wrk()
    _reachable()
    return run_async(_soak())


def _reachable() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=5).ping()
    except (redis.RedisError, OSError) as exc:
        raise Skipped(f"Redis unreachable at {REDIS_URL} ({type(exc).__name__}: {exc})") from exc
    try:
        with _amqp() as amqp:
            amqp.ensure_connection(max_retries=1)
    except Exception as exc:
        raise Skipped(f"RabbitMQ unreachable at {AMQP_URL} ({type(exc).__name__})") from exc


@dataclass
class Soak:
    """What one run measured, before the processes stop."""

    warm: dict[str, RouteLoad]
    loads: dict[str, RouteLoad]
    memory: dict[str, Memory]
    subscribers: Subscribers
    settled: float
    books: Reconciliation


async def _soak() -> list[Result]:
    tag = os.urandom(4).hex()
    async with (
        postgres_database() as flint_url,
        postgres_database(migrated=False) as sandbox_url,
    ):
        with scratch_dir("flint-bench-soak-") as data:
            env = flint_env(
                data,
                database_url=flint_url.render_as_string(hide_password=False),
                sandbox_database_url=sandbox_url.render_as_string(hide_password=False),
                redis_url=REDIS_URL,
                broker_url=AMQP_URL,
                task_queue=f"flint-soak-{tag}",
                stream_channel=f"flint:quotes:soak-{tag}",
                credentials_keys=Fernet.generate_key().decode(),
                rate_limit_signup="100000/hour",
                **HIGH_RATE_LIMITS,
            )
            with _forgotten(env), contextlib.ExitStack() as stack:
                worker = stack.enter_context(flint_worker(env, data, WORKER_PROCESSES))
                apis = [
                    stack.enter_context(
                        uvicorn_server(
                            "flint.app.main:create_app",
                            env,
                            data,
                            keep_alive=KEEP_ALIVE,
                            start_within=120.0,
                        )
                    )
                    for _ in range(API_PROCESSES)
                ]
                say(f"{API_PROCESSES} API processes and a worker of {WORKER_PROCESSES} up")
                trees = {f"api-{i + 1}": api.pid for i, api in enumerate(apis)}
                trees["worker"] = worker.pid
                run = await _run(
                    apis, trees, tag, asyncpg_dsn(flint_url), asyncpg_dsn(sandbox_url), data
                )
            # The processes have stopped: their logs are whole.
            logged, tasks = logged_errors(data), worker_tasks(data)
            if KEEP_LOGS:
                keep(data, KEEP_LOGS)
    return _results(run, logged, tasks)


async def _run(
    apis: list[Server],
    trees: dict[str, int],
    tag: str,
    flint_dsn: str,
    sandbox_dsn: str,
    data: Path,
) -> Soak:
    users, opening = await _users(_sign_up(apis, tag), flint_dsn, sandbox_dsn)
    urls = [api.url for api in apis]
    with subscribed(urls, [u.token for u in users]) as report:
        say(f"warm-up: {WARMUP:g} s of the mix")
        warm = drive_mix(
            urls,
            users,
            seconds=WARMUP,
            seed=0,
            directory=data / "warmup",
            import_date=_import_date(),
        )
        say(f"soak: {SECONDS:g} s of the mix")
        with watched(trees) as memory:
            loads = drive_mix(
                urls,
                users,
                seconds=SECONDS,
                seed=10**6,
                directory=data / "soak",
                import_date=_import_date(),
            )
    say("settling: waiting for the worker")
    settled = await settle(flint_dsn, sandbox_dsn, users, SETTLE_WITHIN)
    phases = [warm, loads]
    in_flight = {r.name: sum(p[r.name].connections for p in phases) for r in ROUTES}
    books = await reconcile(
        flint_dsn,
        sandbox_dsn,
        users,
        opening,
        accepted=[a for phase in phases for a in phase["trade"].accepted],
        unanswered=in_flight["trade"],
        imports=(sum(p["import"].statuses[201] for p in phases), IMPORT_ROWS, in_flight["import"]),
    )
    return Soak(warm, loads, memory, report[0], settled, books)


def _results(run: Soak, logged: dict[str, Any], tasks: dict[str, Any]) -> list[Result]:
    results = _load_results(run.warm, run.loads)
    results.append(_errors(run.warm, run.loads, run.subscribers, logged))
    results += [m.result(f"{NAME}.memory.{n}", MEMORY_GROWTH) for n, m in run.memory.items()]
    results.append(
        Result(
            name=f"{NAME}.reconciliation",
            value=run.books.mismatches,
            unit="mismatches",
            baseline=None,
            ratio=1.0 if run.books.mismatches == 0 else 0.0,
            target=1.0,
            details={
                "meaning": "1 when the books reconcile exactly, else 0",
                **run.books.as_json(),
                "settle_seconds": round(run.settled, 2),
                "settled": run.settled < SETTLE_WITHIN,
                "worker_tasks": tasks,
            },
        )
    )
    for result in results:
        result.details["database"] = "postgresql"
    results[0].details["notes"] = _notes()
    return results


@contextlib.contextmanager
def _amqp() -> Iterator[Any]:
    import kombu

    with kombu.Connection(AMQP_URL, connect_timeout=5) as connection:
        yield connection


@contextlib.contextmanager
def _forgotten(env: dict[str, str]) -> Iterator[None]:
    """At the end, remove what the run left in the shared servers: its RabbitMQ queue and the
    exchange of the same name Celery declares with it, and in its Redis database its
    rate-limit counts and what the servers cached (quotes, sign-ins)."""
    try:
        yield
    finally:
        import redis

        with contextlib.suppress(Exception), _amqp() as amqp:
            amqp.default_channel.queue_delete(env["FLINT_TASK_QUEUE"])
            amqp.default_channel.exchange_delete(env["FLINT_TASK_QUEUE"])
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
        for pattern in (
            f"{env['FLINT_RATE_LIMIT_NAMESPACE']}:*",
            "flint:quote:*",
            "flint:principal:*",
        ):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)


def _sign_up(apis: list[Server], tag: str) -> list[dict[str, str]]:
    """``USERS`` users, each registered on one API and signed in on the other, with a linked
    sandbox brokerage and a portfolio."""
    made: list[dict[str, str]] = []
    for index in range(USERS):
        first, second = apis[index % len(apis)], apis[(index + 1) % len(apis)]
        email = f"soak-{tag}-{index}@example.com"
        body = {"email": email, "password": PASSWORD}
        with (
            httpx.Client(base_url=first.url, timeout=60.0) as a,
            httpx.Client(base_url=second.url, timeout=60.0) as b,
        ):
            registered = a.post("/api/v1/auth/register", json=body)
            expect(registered, 201)
            login = b.post("/api/v1/auth/login", json=body)
            expect(login, 200)
            token = login.json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            code = LINK_CODE.format(tag=tag, index=index)
            linked = a.post(
                "/api/v1/accounts/link",
                json={"provider": "sandbox", "authCode": code},
                headers=auth,
            )
            expect(linked, 201)
            brokerage = next(x for x in linked.json()["accounts"] if x["type"] == "brokerage")
            portfolio = b.post("/api/v1/portfolio/", json={"name": "Soak imports"}, headers=auth)
            expect(portfolio, 201)
        made.append(
            {
                "email": email,
                "token": token,
                "account": brokerage["accountId"],
                "portfolio": portfolio.json()["portfolioId"],
            }
        )
    return made


async def _users(
    made: list[dict[str, str]], flint_dsn: str, sandbox_dsn: str
) -> tuple[list[SoakUser], Books]:
    """The users ``_sign_up`` made, with their accounts' ids at the sandbox (each sells a
    thousandth of its largest position), and the accounts' opening books at the sandbox."""
    import asyncpg

    conn = await asyncpg.connect(flint_dsn)
    try:
        rows = await conn.fetch(
            "SELECT id::text AS id, provider_account_id FROM linked_accounts "
            "WHERE id = ANY($1::uuid[])",
            [m["account"] for m in made],
        )
    finally:
        await conn.close()
    remote = {row["id"]: row["provider_account_id"] for row in rows}
    opening = await sandbox_books(sandbox_dsn, remote.values())
    users = []
    for m in made:
        held = opening.positions[remote[m["account"]]]
        symbol = max(held, key=lambda s: held[s])
        quantity = (held[symbol] / 1000).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
        if quantity <= 0:
            raise RuntimeError(f"the sandbox gave {m['email']} too little to sell: {held}")
        users.append(
            SoakUser(
                **m, remote=remote[m["account"]], sell=symbol, sell_quantity=format(quantity, "f")
            )
        )
    say(f"{len(users)} users signed in, each with a sandbox brokerage and a portfolio")
    return users, opening


def _import_date() -> str:
    """A weekday a week or more before today (the imported rows' date)."""
    day: date = datetime.now(UTC).date() - timedelta(days=7)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day.isoformat()


def _load_results(warm: dict[str, RouteLoad], loads: dict[str, RouteLoad]) -> list[Result]:
    results: list[Result] = []
    for route in ROUTES:
        load = loads[route.name]
        say(
            f"{route.name}: {load.rate:.2f}/s (target {load.target_rate:g}), p50 "
            f"{load.p50_ms:.1f} ms, p99 {load.p99_ms:.1f} ms, {load.failures} failed"
        )
        for label, value in (("p50", load.p50_ms), ("p99", load.p99_ms)):
            results.append(
                Result(
                    name=f"{NAME}.{route.name}.{label}",
                    value=round(value, 2),
                    unit=f"ms {label}",
                    baseline=None,
                    ratio=None,
                    target=None,
                    details={"load": load.as_json(), "warmup": warm[route.name].as_json()},
                )
            )
    achieved = sum(load.rate for load in loads.values())
    wanted = sum(load.target_rate for load in loads.values())
    results.append(
        Result(
            name=f"{NAME}.rate",
            value=round(achieved, 2),
            unit="req/s",
            baseline=round(wanted, 2),
            ratio=round(achieved / wanted, 3),
            target=None,
            details={
                "meaning": "requests/s achieved over the target rate, all routes, measured "
                f"period ({SECONDS:g} s after {WARMUP:g} s of warm-up)",
                "seconds": SECONDS,
                "warmup_seconds": WARMUP,
                "users": USERS,
                "api_processes": API_PROCESSES,
                "worker_processes": WORKER_PROCESSES,
            },
        )
    )
    return results


def _errors(
    warm: dict[str, RouteLoad],
    loads: dict[str, RouteLoad],
    subscribers: Subscribers,
    logged: dict[str, Any],
) -> Result:
    phases = [warm, loads]
    requests = sum(load.requests for phase in phases for load in phase.values())
    http = sum(load.failures for phase in phases for load in phase.values())
    failures = http + subscribers.failures + logged["records"]
    say(
        f"errors: {http} failed requests of {requests}, {subscribers.disconnects} WebSocket "
        f"disconnects, {logged['records']} error records in the logs"
    )
    return Result(
        name=f"{NAME}.errors",
        value=failures,
        unit="errors",
        baseline=None,
        ratio=round(1 - failures / max(1, requests), 6),
        target=1.0,
        details={
            "meaning": "1 - failures / requests (target 1: none); failures are failed requests "
            "(both phases), WebSocket disconnects, silent subscribers, quotes back in time and "
            "error records logged by the APIs and the worker",
            "requests": requests,
            "failed_requests": http,
            "failed_by_route": {name: warm[name].failures + loads[name].failures for name in loads},
            "websocket": subscribers.as_json(),
            "logged": logged,
        },
    )


def _notes() -> list[str]:
    load = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    notes = [
        f"{API_PROCESSES} API processes, the worker, PostgreSQL, Redis, RabbitMQ, wrk and the "
        f"WebSocket subscribers share {cpus} CPUs; nothing pinned"
    ]
    if load > cpus:
        notes.append(f"load average {load:.1f} on {cpus} CPUs: other work competed")
    return notes
