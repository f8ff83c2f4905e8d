"""What every benchmark shares: the result record, subprocess servers on 127.0.0.1, migrated
scratch databases (SQLite in a temporary data directory, or a throwaway PostgreSQL database),
and server CPU accounting.

Servers run in their own processes (``python -m uvicorn``), the same way ``flint serve`` runs
them, with a clean environment: every ``FLINT_*`` variable of the caller is dropped and the
working directory is a scratch directory, so neither the caller's settings nor a ``.env`` file
leak into a measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy.engine import URL, make_url

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL_ENV = "FLINT_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LOOPBACK = "127.0.0.1"
PASSWORD = "bench-Tr0ub4dor&3-horse-staple"  # noqa: S105 - a throwaway local account
JWT_SECRET = "bench-only-secret-" + "x" * 40
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

T = TypeVar("T")


@dataclass
class Result:
    """One line of the results table and one entry of ``bench/results/latest.json``.

    ``ratio`` compares two things measured in the same run (never an absolute time), and
    ``target`` is the least ``ratio`` that passes; ``target=None`` is informational.
    """

    name: str
    value: float
    unit: str
    baseline: float | None
    ratio: float | None
    target: float | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "details": self.details,
        }


class Skipped(Exception):
    """A benchmark cannot run here (a server it needs is unreachable); the reason says why."""


def say(message: str) -> None:
    """Progress goes to stderr, so stdout holds only the table."""
    print(f"  {message}", file=sys.stderr, flush=True)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on uvloop when it is installed (as uvicorn does), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**flint: str) -> dict[str, str]:
    """The caller's environment without any ``FLINT_*`` variable, plus ``flint`` (names
    without the prefix: ``data_dir="/tmp/x"`` sets ``FLINT_DATA_DIR``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLINT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for name, value in flint.items():
        env[f"FLINT_{name.upper()}"] = value
    return env


HIGH_RATE_LIMITS = {"rate_limit_user": "100000000/minute", "rate_limit_ip": "100000000/minute"}
"""The rate limits stay on and are counted on every request, with budgets a load generator
cannot spend in a run (the production defaults answer 429 within a second of load)."""


def flint_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """Settings for a Flint server under test: SQLite in ``data_dir`` unless overridden, no
    Redis, an in-memory broker, warnings only (access lines are INFO, so they cost the
    structlog level check and nothing more, on every route alike)."""
    values = {
        "data_dir": str(data_dir),
        "env": "production",
        "broker_url": "memory://",
        "redis_url": "",
        "jwt_secret": JWT_SECRET,
        "log_level": "WARNING",
        "log_format": "json",
        "market_providers": "simulated",
        # Rate-limit counts of this server's own: a shared Redis keeps every earlier run's (and
        # the tests') counts, and the sign-up budget is 20 an hour per address.
        "rate_limit_namespace": f"flint-bench-{os.urandom(4).hex()}",
    }
    values.update(overrides)
    return clean_env(**values)


def migrate(env: Mapping[str, str], cwd: Path) -> None:
    """``flint migrate`` against the database ``env`` names."""
    done = subprocess.run(
        [sys.executable, "-m", "flint.app.cli", "migrate"],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flint migrate failed:\n{done.stdout}{done.stderr}")


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)


@dataclass
class Server:
    """A uvicorn process (or a supervisor and its worker processes) serving one app on
    127.0.0.1."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    workers: int = 1

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def pids(self) -> list[int]:
        """The processes that serve HTTP: the one process, or a supervisor's workers (a
        single process's children are Flint's performance processes, not servers)."""
        if self.workers == 1:
            return [self.pid]
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            children = []
        return [int(child) for child in children]

    def cpu_seconds(self) -> float:
        """User plus system CPU time the serving processes have used so far."""
        return sum(process_cpu_seconds(pid) for pid in self.pids)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc (Linux)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextlib.contextmanager
def uvicorn_server(
    app: str,
    env: Mapping[str, str],
    cwd: Path,
    *,
    ready_path: str = "/healthz",
    start_within: float = 60.0,
    keep_alive: float = 5.0,
    workers: int = 1,
    cpus: str | None = None,
) -> Iterator[Server]:
    """Serve the ASGI factory ``app`` ("module:function") in a uvicorn subprocess on a free
    port of 127.0.0.1 until the block ends, as ``flint serve`` serves it: uvicorn's default loop
    and HTTP parser, proxy headers from the allowed proxies only, no ``server`` header, and
    Prometheus' multiprocess directory set (in ``cwd``); warnings only, no access log.
    ``keep_alive`` is uvicorn's idle keep-alive timeout (its default is 5 s); ``workers`` > 1
    runs uvicorn's supervisor with that many processes; ``cpus`` pins them (taskset's list)."""
    port = free_port()
    log = cwd / f"uvicorn-{port}.log"
    metrics = cwd / f"metrics-{port}"
    metrics.mkdir(mode=0o700)
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--no-server-header",
        "--proxy-headers",
        "--timeout-graceful-shutdown",
        "3",
        "--timeout-keep-alive",
        f"{keep_alive:g}",
    ]
    if workers > 1:
        command += ["--workers", str(workers)]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    environment = dict(env) | {"PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, env=environment, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT
        )
    server = Server(f"http://{LOOPBACK}:{port}", process, log, workers)
    try:
        _wait_ready(server, ready_path, start_within)
        if workers > 1:
            _wait_workers(server, workers, start_within)
        yield server
    finally:
        stop_process(process)


@contextlib.contextmanager
def flint_worker(
    env: Mapping[str, str], cwd: Path, processes: int, *, start_within: float = 120.0
) -> Iterator[subprocess.Popen[Any]]:
    """``flint worker`` (prefork, ``processes`` processes) on the broker and database ``env``
    names, in a subprocess, until the block ends; yielded once Celery says it is ready."""
    log = cwd / "worker.log"
    command = [
        sys.executable,
        "-m",
        "flint.app.cli",
        "worker",
        f"--concurrency={processes}",
        "--loglevel=INFO",
    ]
    environment = dict(env) | {"FLINT_LOG_LEVEL": "INFO"}  # Celery's "ready" line is INFO
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, env=environment, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + start_within
        while b" ready." not in log.read_bytes():
            if process.poll() is not None:
                raise RuntimeError(f"the worker exited with {process.returncode}:\n{tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker was not ready within {start_within:g} s")
            time.sleep(0.1)
        yield process
    finally:
        stop_process(process)


def _wait_workers(server: Server, workers: int, within: float) -> None:
    """Every worker of a supervisor is up (the first may answer before the others start)."""
    deadline = time.monotonic() + within
    while len(server.pids) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{workers} workers did not start within {within:g} s")
        time.sleep(0.1)
    time.sleep(2.0)  # each worker's app start-up (the supervisor forks before importing)


def _wait_ready(server: Server, path: str, within: float) -> None:
    deadline = time.monotonic() + within
    with httpx.Client(base_url=server.url, timeout=2.0) as client:
        while True:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {server.process.returncode}:\n{tail(server.log)}"
                )
            try:
                if client.get(path).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within {within:g} s")
            time.sleep(0.05)


def stop_process(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def sign_up(base_url: str) -> str:
    """Register a fresh user through the API and sign in; returns the access token."""
    email = f"bench-{os.urandom(5).hex()}@example.com"
    body = {"email": email, "password": PASSWORD}
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        registered = client.post("/api/v1/auth/register", json=body)
        if registered.status_code != 201:
            raise RuntimeError(f"register answered {registered.status_code}: {registered.text}")
        login = client.post("/api/v1/auth/login", json=body)
        if login.status_code != 200:
            raise RuntimeError(f"login answered {login.status_code}: {login.text}")
        token: str = login.json()["token"]
        return token


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def postgres_base_url() -> URL:
    return make_url(os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL)


def asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def postgres_database(*, migrated: bool = True) -> AsyncIterator[URL]:
    """A scratch database ``flint_bench_<random>``, migrated (or left empty, for the sandbox
    institution, which makes its own tables), on the server named by
    ``FLINT_BENCH_POSTGRES_URL``; dropped when the block ends. Raises :class:`Skipped` when
    the server cannot be reached."""
    import asyncpg

    base = postgres_base_url()
    shown = base.render_as_string(hide_password=True)
    try:
        admin = await asyncpg.connect(asyncpg_dsn(base), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise Skipped(f"PostgreSQL unreachable at {shown} ({type(exc).__name__}: {exc})") from exc
    name = f"flint_bench_{os.urandom(4).hex()}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = base.set(database=name)
            if migrated:
                with scratch_dir("flint-bench-pg-") as data:
                    migrate(
                        flint_env(data, database_url=url.render_as_string(hide_password=False)),
                        data,
                    )
            yield url
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


Measure = Callable[["Server", str], list[Result]]


def with_worker_on_each_database(prefix: str, workers: int, measure: Measure) -> list[Result]:
    """``measure(server, backend)`` against Flint served as ``make run`` serves it (one
    uvicorn process, a ``flint worker`` of ``workers`` processes beside it, the server-less
    broker on a file they share), on SQLite, then on a scratch PostgreSQL database when one is
    reachable (its entries renamed ``<bench>.postgresql.<entry>``)."""
    say("sqlite")
    results = _with_worker(prefix, workers, measure, None)
    try:
        results += run_async(_with_worker_on_postgresql(prefix, workers, measure))
    except Skipped as skip:
        say(f"postgresql skipped: {skip}")
        results[0].details["notes"] = [f"not run on PostgreSQL: {skip}"]
    return results


async def _with_worker_on_postgresql(prefix: str, workers: int, measure: Measure) -> list[Result]:
    async with postgres_database() as url:
        say("postgresql")
        return _with_worker(prefix, workers, measure, url)


def _with_worker(prefix: str, workers: int, measure: Measure, database: URL | None) -> list[Result]:
    with scratch_dir(prefix) as data:
        if database is None:
            env = flint_env(data, broker_url="")
            migrate(env, data)
        else:
            url = database.render_as_string(hide_password=False)
            env = flint_env(data, database_url=url, broker_url="")
        with (
            flint_worker(env, data, workers),
            uvicorn_server("bench._server:create", env, data, start_within=120.0) as server,
        ):
            results = measure(server, "sqlite" if database is None else "postgresql")
    if database is not None:
        for result in results:
            result.name = result.name.replace(".", ".postgresql.", 1)
    return results


PROBE_EVERY = 0.01
"""How often `probe_healthz` asks ``/healthz``."""


@dataclass
class Probe:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0

    def as_json(self) -> dict[str, Any]:
        ms = [v * 1000 for v in self.latencies]
        return {
            "probes": len(ms),
            "failures": self.failures,
            "p50_ms": round(percentile(ms, 0.5), 2),
            "p99_ms": round(percentile(ms, 0.99), 2),
            "max_ms": round(max(ms), 2) if ms else None,
        }


def probe_healthz(url: str, while_running: Any) -> Probe:
    """Probe ``/healthz`` every ``PROBE_EVERY`` seconds from a process of its own (so nothing
    this process does, such as parsing a large answer, delays a probe) while
    ``while_running()`` runs."""
    context = multiprocessing.get_context("spawn")
    ready, done = context.Event(), context.Event()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_probe_loop, args=(url, ready, done, send), daemon=True)
    process.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the /healthz probe did not start")
        while_running()
    finally:
        done.set()
    latencies, failures = receive.recv()
    process.join(30)
    if failures:
        raise RuntimeError(f"/healthz failed {failures} times")
    return Probe(latencies, failures)


def _probe_loop(url: str, ready: Any, done: Any, send: Any) -> None:
    latencies: list[float] = []
    failures = 0
    with httpx.Client(base_url=url, timeout=30.0) as client:
        client.get("/healthz")  # connect before timing
        ready.set()
        while not done.is_set():
            started = time.perf_counter()
            try:
                ok = client.get("/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = time.perf_counter() - started
            if ok:
                latencies.append(elapsed)
            else:
                failures += 1
            done.wait(max(0.0, PROBE_EVERY - elapsed))
    send.send((latencies, failures))


def expect(response: httpx.Response, status: int) -> None:
    """Stop the benchmark when ``response`` is not ``status``, saying what was answered."""
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:2000]}"
        )


HEALTHZ_TARGET = 0.5
"""Idle p99 over loaded p99: at least this, so the p99 at most doubles under load."""


def healthz_result(name: str, idle: Probe, during: Probe, while_what: str) -> Result:
    """The ``/healthz`` entry: idle p99 over the p99 while ``while_what`` ran."""
    idle_p99 = percentile(idle.latencies, 0.99)
    during_p99 = percentile(during.latencies, 0.99)
    return Result(
        name=name,
        value=round(during_p99 * 1000, 2),
        unit="ms p99",
        baseline=round(idle_p99 * 1000, 2),
        ratio=round(idle_p99 / during_p99, 3),
        target=HEALTHZ_TARGET,
        details={
            "meaning": f"idle p99 over p99 during {while_what} (≥ 0.5: at most 2x)",
            "idle": idle.as_json(),
            "during": during.as_json(),
        },
    )
