"""``cold_quote_coalescing``: 500 concurrent requests for one uncached symbol reach the vendor
once.

Flint runs in a uvicorn process (SQLite in a scratch data directory, then again on a scratch
PostgreSQL database when ``FLINT_BENCH_POSTGRES_URL``'s server answers) with the provider chain
``yahoo`` pointed at the local Yahoo stub (``tests.stubs.yahoo``, served by uvicorn in a third
process), whose ``slow`` scenario holds every answer for ``STUB_DELAY`` seconds so the requests
truly overlap. For each symbol the stub knows, the bench opens 500 keep-alive connections
(``GET /healthz`` on each), then sends 500 quote requests for the symbol at once, and counts the
chart requests the stub received for it. Right after, the same 500-request burst on the now
warm symbol is the latency baseline.

On SQLite every request's transaction starts with ``BEGIN IMMEDIATE`` (the user lookup), so
requests queue for the database one at a time, the first one holding the write lock through its
vendor call: they never reach the quote cache together. On PostgreSQL they do, which is the run
that tests the coalescing itself (cashews' ``protected`` task sharing in-process, its lock
across processes).

Entries, per backend (``cold_quote_coalescing`` on SQLite, ``cold_quote_coalescing.postgresql``):
the most vendor calls any symbol caused (ratio = 1 / calls, target 1, so a second call misses),
and ``….p99``: p99 latency of the cold bursts against the warm bursts (informational).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import URL

from bench._common import (
    HIGH_RATE_LIMITS,
    Result,
    Server,
    Skipped,
    clean_env,
    flint_env,
    migrate,
    percentile,
    postgres_database,
    run_async,
    say,
    scratch_dir,
    sign_up,
    uvicorn_server,
)

NAME = "cold_quote_coalescing"
CONCURRENCY = int(os.environ.get("FLINT_BENCH_COLD_CONCURRENCY", "500"))
STUB_DELAY = 0.2
SYMBOLS = ("AAPL", "MSFT", "BTC-USD", "EURUSD=X", "OCDO.L")
"""Every symbol the stub has a chart for; each is cold exactly once per run."""


@dataclass
class Burst:
    latencies_ms: list[float]
    statuses: dict[int, int]
    error_kinds: dict[str, int]
    wall_seconds: float
    server_cpu_seconds: float
    client_cpu_seconds: float

    @property
    def failures(self) -> int:
        errors = sum(self.error_kinds.values())
        return errors + sum(n for code, n in self.statuses.items() if code != 200)


def run() -> list[Result]:
    return run_async(_run())


async def _run() -> list[Result]:
    with (
        scratch_dir("flint-bench-cold-") as data,
        uvicorn_server(
            "tests.stubs.yahoo:create_app", clean_env(), data, ready_path="/_requests"
        ) as stub,
    ):
        async with httpx.AsyncClient(base_url=stub.url, timeout=10.0) as control:
            scenario = {"name": "slow", "delay": STUB_DELAY}
            (await control.post("/_scenario", json=scenario)).raise_for_status()
        say("sqlite")
        results = await _on_backend(stub, data / "sqlite", None)
        try:
            async with postgres_database() as url:
                say("postgresql")
                results += await _on_backend(stub, data / "postgresql", url)
        except Skipped as skip:
            say(f"postgresql skipped: {skip}")
            results[0].details["notes"] = [f"not run on PostgreSQL: {skip}"]
        return results


async def _on_backend(stub: Server, data: Path, database: URL | None) -> list[Result]:
    """One Flint server on SQLite (``database`` None) or on the given PostgreSQL database."""
    _mkdir(data)
    backend = "sqlite" if database is None else "postgresql"
    overrides = {
        "market_providers": "yahoo",
        "yahoo_base_url": stub.url,
        "quote_ttl_seconds": "3600",
        **HIGH_RATE_LIMITS,
    }
    if database is not None:
        overrides["database_url"] = database.render_as_string(hide_password=False)
    env = flint_env(data, **overrides)
    if database is None:
        migrate(env, data)
    # Idle keep-alive connections live 75 s (as behind a typical proxy) rather than uvicorn's
    # 5 s: a saturated server otherwise closes connections the burst is about to reuse, and
    # the client sees "Server disconnected", which is not what this benchmark is about.
    with uvicorn_server("bench._server:create", env, data, keep_alive=75) as server:
        token = sign_up(server.url)
        results = await _measure(server, stub, token)
    for result in results:
        result.details["database"] = backend
        if database is not None:
            result.name = result.name.replace(NAME, f"{NAME}.{backend}", 1)
    return results


async def _measure(server: Server, stub: Server, token: str) -> list[Result]:
    headers = {"Authorization": f"Bearer {token}"}
    calls: dict[str, int] = {}
    cold: dict[str, Burst] = {}
    warm: dict[str, Burst] = {}
    sequential: list[float] = []
    # One client per connection: a single httpx pool shared by 500 concurrent requests spends
    # so much CPU on its own bookkeeping that the bench process, not the server, sets the pace.
    one_connection = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=server.url, limits=one_connection, timeout=120.0)
            )
            for _ in range(CONCURRENCY)
        ]
        stub_client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=stub.url, timeout=10.0)
        )
        client = clients[0]
        for symbol in SYMBOLS:
            path = f"/api/v1/market/real-time/{symbol}"
            before = await _stub_calls(stub_client, symbol)
            await _open_connections(clients)
            cold[symbol] = await _burst(clients, server, path, headers)
            calls[symbol] = await _stub_calls(stub_client, symbol) - before
            await _open_connections(clients)
            warm[symbol] = await _burst(clients, server, path, headers)
            say(
                f"{symbol}: {calls[symbol]} vendor call(s); p99 cold "
                f"{percentile(cold[symbol].latencies_ms, 0.99):.0f} ms, warm "
                f"{percentile(warm[symbol].latencies_ms, 0.99):.0f} ms"
            )
        for _ in range(50):
            started = time.perf_counter()
            response = await client.get(f"/api/v1/market/real-time/{SYMBOLS[0]}", headers=headers)
            sequential.append(1e3 * (time.perf_counter() - started))
            response.raise_for_status()

    failures = {
        f"{kind} {symbol}": {"statuses": burst.statuses, "errors": burst.error_kinds}
        for kind, bursts in (("cold", cold), ("warm", warm))
        for symbol, burst in bursts.items()
        if burst.failures
    }
    if failures:
        raise RuntimeError(f"failed requests: {failures}")
    worst = max(calls.values())
    cold_all = [ms for burst in cold.values() for ms in burst.latencies_ms]
    warm_all = [ms for burst in warm.values() for ms in burst.latencies_ms]
    cold_p99, warm_p99 = percentile(cold_all, 0.99), percentile(warm_all, 0.99)

    def burst_json(bursts: dict[str, Burst]) -> dict[str, dict[str, float]]:
        return {
            symbol: {
                "p50_ms": round(percentile(b.latencies_ms, 0.50), 1),
                "p99_ms": round(percentile(b.latencies_ms, 0.99), 1),
                "max_ms": round(max(b.latencies_ms), 1),
                "wall_s": round(b.wall_seconds, 3),
                "server_cpu_s": round(b.server_cpu_seconds, 3),
                "client_cpu_s": round(b.client_cpu_seconds, 3),
            }
            for symbol, b in bursts.items()
        }

    return [
        Result(
            name=NAME,
            value=worst,
            unit="calls",
            baseline=1,
            ratio=round(1 / worst, 3) if worst else None,
            target=1.0,
            details={
                "concurrency": CONCURRENCY,
                "stub_delay_s": STUB_DELAY,
                "calls_per_symbol": calls,
            },
        ),
        Result(
            name=f"{NAME}.p99",
            value=round(cold_p99, 1),
            unit="ms",
            baseline=round(warm_p99, 1),
            ratio=round(warm_p99 / cold_p99, 3),
            target=None,
            details={
                "meaning": "p99 of the warm bursts / p99 of the cold bursts (same concurrency)",
                "cold_p50_ms": round(percentile(cold_all, 0.50), 1),
                "warm_p50_ms": round(percentile(warm_all, 0.50), 1),
                "sequential_warm_p99_ms": round(percentile(sequential, 0.99), 2),
                "cold": burst_json(cold),
                "warm": burst_json(warm),
            },
        ),
    ]


def _mkdir(path: Path) -> None:
    path.mkdir()


async def _open_connections(clients: list[httpx.AsyncClient]) -> None:
    """Give every client a live keep-alive connection, so the burst measures request handling
    rather than TCP handshakes."""
    responses = await asyncio.gather(*(client.get("/healthz") for client in clients))
    for response in responses:
        response.raise_for_status()


async def _burst(
    clients: list[httpx.AsyncClient], server: Server, path: str, headers: dict[str, str]
) -> Burst:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    gate = asyncio.Event()

    async def one(client: httpx.AsyncClient) -> None:
        await gate.wait()
        started = time.perf_counter()
        try:
            response = await client.get(path, headers=headers)
        except httpx.HTTPError as exc:
            kind = f"{type(exc).__name__}: {exc}"
            errors[kind] = errors.get(kind, 0) + 1
            return
        latencies.append(1e3 * (time.perf_counter() - started))
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    tasks = [asyncio.create_task(one(client)) for client in clients]
    await asyncio.sleep(0)  # every task is now waiting at the gate
    cpu0, own0, wall0 = server.cpu_seconds(), time.process_time(), time.perf_counter()
    gate.set()
    await asyncio.gather(*tasks)
    return Burst(
        latencies,
        statuses,
        errors,
        wall_seconds=time.perf_counter() - wall0,
        server_cpu_seconds=server.cpu_seconds() - cpu0,
        client_cpu_seconds=time.process_time() - own0,
    )


async def _stub_calls(client: httpx.AsyncClient, symbol: str) -> int:
    """Chart requests the stub has received for ``symbol`` so far."""
    response = await client.get("/_requests")
    response.raise_for_status()
    return sum(1 for seen in response.json() if seen["path"] == f"/v8/finance/chart/{symbol}")
