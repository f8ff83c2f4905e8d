"""Performance computed in the API's worker processes (`flint.portfolio.workers`), as
``make run`` serves it: the same bytes as computed in the API process, closes the workers
lack fetched by the API first, and a worker that dies replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from flint.errors import NotFound
from flint.kit.cache import create_cache
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import performance, prices
from flint.portfolio.computing import InProcess, PerformanceService, cache_key
from flint.portfolio.models import Portfolio
from flint.portfolio.performance_schemas import Performance
from flint.portfolio.workers import PerformancePool, _ready
from flint.runtime import Runtime
from tests.conftest import Account, service_url

pytestmark = pytest.mark.waits
V1 = "/api/v1/portfolio"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """One worker process, at the API's priority: beside the suite's own busy processes a
    worker at Flint's niceness (15) gets a few percent of a core. With four busy loops
    beside it, the first computation ran over its 30 s budget in 3 of 10 runs; one CI run
    waited two minutes for a replacement to answer. The niceness has its own test below."""
    return {"performance_workers": 1, "performance_niceness": 0}


async def make_portfolio(client: httpx.AsyncClient, who: Account) -> str:
    start = utcnow().date() - timedelta(days=400)
    asset = {"symbol": "MY:FLAT", "name": "Flat in Lyon", "currency": "EUR"}
    made = await client.post("/api/v1/assets", json=asset, headers=who.headers)
    assert made.status_code == 201, made.text
    given = [
        {"date": str(start + timedelta(days=60)), "price": "250000"},
        {"date": str(start + timedelta(days=300)), "price": "262500"},
    ]
    priced = await client.put("/api/v1/assets/MY:FLAT/prices", json=given, headers=who.headers)
    assert priced.status_code == 200, priced.text
    body = {
        "name": "Spread",
        "assets": [
            {
                "symbol": "AAPL",
                "quantity": "10",
                "purchasePrice": "150",
                "purchaseDate": str(start),
            },
            {
                "symbol": "BTC-USD",
                "quantity": "0.5",
                "purchasePrice": "30000",
                "purchaseDate": str(start + timedelta(days=20)),
            },
            {  # a custom asset quoted in euros, so valued through EURUSD=X
                "symbol": "MY:FLAT",
                "quantity": "1",
                "purchasePrice": "250000",
                "purchaseDate": str(start + timedelta(days=60)),
            },
        ],
    }
    created = await client.post(f"{V1}/", json=body, headers=who.headers)
    assert created.status_code == 201, created.text
    portfolio_id: str = created.json()["portfolioId"]
    sale = {
        "date": str(start + timedelta(days=200)),
        "type": "sell",
        "symbol": "AAPL",
        "quantity": "4",
        "price": "190",
    }
    added = await client.post(f"{V1}/{portfolio_id}/transactions", json=sale, headers=who.headers)
    assert added.status_code == 201, added.text
    return portfolio_id


def pool(app: FastAPI) -> PerformancePool:
    computer = app.state.runtime.get(PerformanceService).computer
    assert isinstance(computer, PerformancePool)
    return computer


async def in_process(app: FastAPI, portfolio_id: str, window: performance.Window) -> bytes:
    """Computed in this process, uncached."""
    runtime: Runtime = app.state.runtime
    market = runtime.get(MarketData)
    uncached = PerformanceService(
        market,
        create_cache(None),
        InProcess(runtime.readers, market),
        runtime.sessions,
        runtime.readers,
        0.0,
    )
    async with runtime.readers() as session:  # as the route reads it: no write lock held
        portfolio = await session.get(Portfolio, uuid.UUID(portfolio_id))
        assert portfolio is not None
        return await uncached.json(portfolio, window)


async def test_the_workers_answer_the_same_bytes_as_the_api_process(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    runtime: Runtime = app.state.runtime
    pool(app)
    portfolio_id = await make_portfolio(client, alice)
    today = utcnow().date()
    # The first request finds closes missing (only a fortnight around each purchase is
    # stored): the API fetches them, commits, and the worker computes.
    response = await client.get(f"{V1}/{portfolio_id}/performance", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    perf = response.json()
    assert {h["symbol"] for h in perf["holdings"]} == {"AAPL", "BTC-USD", "MY:FLAT"}
    assert len(perf["series"]) > 380  # crypto: every day
    assert perf["twr"] is not None
    assert perf["beta"] is not None

    prices.clear()  # the API process reads everything itself
    window = performance.Window(None, today, "SPY", runtime.settings.risk_free_rate)
    assert await in_process(app, portfolio_id, window) == response.content

    windowed = await client.get(
        f"{V1}/{portfolio_id}/performance",
        params={"start": str(today - timedelta(days=90)), "benchmark": "QQQ"},
        headers=alice.headers,
    )
    assert windowed.status_code == 200, windowed.text
    narrow = performance.Window(today - timedelta(days=90), today, "QQQ", 0.0)
    assert await in_process(app, portfolio_id, narrow) == windowed.content
    assert windowed.json()["benchmark"] == "QQQ"
    assert windowed.json()["series"][0]["date"] < str(today - timedelta(days=89))

    chart = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": "drawdown", "format": "svg"},
        headers=alice.headers,
    )
    assert chart.status_code == 200
    assert chart.content.lstrip().startswith(b"<?xml")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_a_worker_that_dies_is_replaced(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    workers = pool(app)
    portfolio_id = await make_portfolio(client, alice)
    first = await client.get(f"{V1}/{portfolio_id}/performance", headers=alice.headers)
    assert first.status_code == 200, first.text

    pid = await workers._run(_ready)
    assert pid != os.getpid()
    await until_idle(pid)
    os.kill(pid, signal.SIGKILL)
    again = await client.get(
        f"{V1}/{portfolio_id}/performance",
        params={"start": str(utcnow().date() - timedelta(days=30))},
        headers=alice.headers,
    )
    assert again.status_code == 200, again.text
    assert await workers._run(_ready) != pid


async def until_idle(pid: int) -> None:
    """Until worker ``pid`` waits for its next task (its main thread in poll, where an idle
    worker the OOM killer or an operator kills is). Killed the moment its answer arrived, it
    could still hold the lock of the pool's channel that it sent the answer under (on a busy
    machine, before it ran its next line), and then no replacement could take a task: one of
    the two causes a CI run that waited out its timeout may have had (the other is the
    worker's priority, `settings_overrides`). pebble's own stops take that lock first."""
    for _ in range(500):
        if "poll" in kernel_wait(pid):
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"worker {pid} never went back to waiting for a task")


def kernel_wait(pid: int) -> str:
    """Where in the kernel process ``pid``'s main thread waits (``/proc/<pid>/wchan``)."""
    return Path(f"/proc/{pid}/wchan").read_text()


def cpu_seconds(pid: int) -> float:
    """The CPU time process ``pid`` has used (user and system, from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_a_replaced_worker_does_not_import_flint_again(app: FastAPI) -> None:
    """A worker stopped over its budget or killed is replaced by a fork of the server process
    that imported Flint once: a fresh interpreter spent 1.1-1.4 s of CPU importing it before
    the replacement could take the next computation, which waited meanwhile. Measured as the
    replacement's own CPU time, which a busy machine does not stretch."""
    workers = pool(app)
    pid = await workers._run(_ready)
    await until_idle(pid)
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):  # the pool notices the death, then starts another
        try:
            replacement = await workers._run(_ready)
            break
        except (BrokenProcessPool, RuntimeError):
            await asyncio.sleep(0.05)
    else:
        pytest.fail("no worker answered after the first was killed")
    assert replacement != pid
    assert cpu_seconds(replacement) < 0.5


async def test_the_answer_is_cached_as_json_text_in_redis_and_served_as_the_same_bytes(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    runtime: Runtime = app.state.runtime
    portfolio_id = await make_portfolio(client, alice)
    shared = create_cache(service_url("FLINT_TEST_REDIS_URL", "Redis"))
    served = runtime.get(PerformanceService)
    service = PerformanceService(
        served.market, shared, pool(app), runtime.sessions, runtime.readers, served.risk_free
    )
    try:
        window = performance.Window(None, utcnow().date(), "SPY", 0.0)
        async with runtime.readers() as session:
            portfolio = await session.get(Portfolio, uuid.UUID(portfolio_id))
            assert portfolio is not None
            key = cache_key(portfolio, window)
            await shared.delete(key)
            first = await service.json(portfolio, window)
            kept = await shared.get(key)
            assert kept == first.decode()
            # What the cache holds is what is served: nothing is computed again.
            await shared.set(key, '{"from": "the cache"}', expire=60)
            second = await service.json(portfolio, window)
            assert second == b'{"from": "the cache"}'
            await shared.set(key, kept, expire=60)
            model = Performance.model_validate_json(await shared.get(key))
            assert model.model_dump_json(by_alias=True).encode() == first
            await shared.delete(key)
    finally:
        await shared.close()


async def test_a_portfolio_deleted_before_its_worker_reads_it_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    workers = pool(app)
    portfolio_id = await make_portfolio(client, alice)
    deleted = await client.delete(f"{V1}/{portfolio_id}", headers=alice.headers)
    assert deleted.status_code == 204
    window = performance.Window(None, utcnow().date(), "SPY", 0.0)
    with pytest.raises(NotFound):
        await workers.compute(uuid.UUID(portfolio_id), window, complete=False)


@pytest.mark.parametrize(
    ("settings_overrides", "lower"),
    [({"performance_workers": 1}, 15), ({"performance_workers": 1, "performance_niceness": 0}, 0)],
    ids=["default", "told-0"],
)
async def test_the_workers_run_below_the_apis_priority_by_their_niceness(
    app: FastAPI, lower: int
) -> None:
    """By ``FLINT_PERFORMANCE_NICENESS`` (15 unless told): the API's requests come first on a
    machine they share, and the processes are in Linux's idle class, which gives way to a
    request at once; 0 where the processes have cores of their own (and in the budget's test,
    whose answers must not wait for a busy machine's other processes): as the API."""
    pid = await pool(app)._run(_ready)
    assert pid != os.getpid()
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, ours + lower)
    if hasattr(os, "SCHED_IDLE"):
        policy = os.SCHED_IDLE if lower else os.sched_getscheduler(0)
        assert os.sched_getscheduler(pid) == policy
