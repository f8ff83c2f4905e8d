"""The production topology on one machine: two API processes, a Celery worker and beat, each
its own process, on PostgreSQL, Redis and RabbitMQ (what `deploy/compose.yaml` runs in
containers). A user's whole journey alternates between the two APIs at every step, so nothing
may live in one process (no sticky sessions); then one API dies mid-traffic and the other keeps
serving.

The processes share a data directory, as the compose file's containers share a volume: the
reports the worker renders are files the APIs hand out. Everything else they share is a server
or a setting (the JWT secret and the credentials key are set, not generated per process).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pypdf import PdfReader

from tests.conftest import DEFAULT_PASSWORD, service_url
from tests.market.stream_client import WS_PATH, exchange, open_socket, receive
from tests.system.processes import Process, Processes, flint_env, fresh_databases, running

pytestmark = [pytest.mark.waits, pytest.mark.xdist_group("rabbitmq"), pytest.mark.postgres]


@pytest.fixture
def topology(tmp_path: Path, task_queue: str) -> Iterator[tuple[Processes, Process, Process]]:
    redis = service_url("FLINT_TEST_REDIS_URL", "Redis")
    amqp = service_url("FLINT_TEST_AMQP_URL", "RabbitMQ")
    tag = uuid.uuid4().hex[:8]
    with fresh_databases("flint", "sandbox") as (database, sandbox):
        env = flint_env(
            FLINT_ENV="production",
            FLINT_DATA_DIR=str(tmp_path / "data"),
            FLINT_DATABASE_URL=database,
            FLINT_SANDBOX_DATABASE_URL=sandbox,
            FLINT_REDIS_URL=redis,
            FLINT_BROKER_URL=amqp,
            FLINT_TASK_QUEUE=task_queue,
            FLINT_STREAM_CHANNEL=f"flint:quotes:system-{tag}",
            # Limits of this run's own: the shared Redis keeps every earlier run's counts, and
            # the sign-up budget (20 an hour per address) is soon spent on 127.0.0.1.
            FLINT_RATE_LIMIT_NAMESPACE=f"flint-system-{tag}",
            FLINT_JWT_SECRET=f"system-{uuid.uuid4().hex}",
            FLINT_CREDENTIALS_KEYS=Fernet.generate_key().decode(),
            FLINT_PUBLIC_URL="http://flint.test",
            FLINT_STREAM_POLL_SECONDS="1",
            FLINT_QUOTE_TTL_SECONDS="0.5",
            FLINT_PERFORMANCE_WORKERS="0",
            FLINT_TRADE_WAIT_SECONDS="15",
        )
        with running(tmp_path, env) as processes:
            processes.run("migrate", "migrate")  # migrations first, once, before any API
            api_a = processes.start("api-a", "serve", api=True)
            api_b = processes.start("api-b", "serve", api=True)
            processes.start("worker", "worker", "--concurrency=1", "--wait-migrated")
            processes.start("beat", "beat")
            processes.wait_ready(api_a, api_b)
            yield processes, api_a, api_b


async def wait_until(
    what: str, check: Callable[[], Awaitable[Any]], processes: Processes, within: float = 60
) -> Any:
    """Poll ``check`` until it returns something truthy, which is returned."""
    for _ in range(int(within / 0.25)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.25)
    pytest.fail(f"timed out after {within:g} s waiting for {what}\n{processes.outputs()}")


@pytest.mark.timeout(240)
async def test_a_user_journey_alternates_between_two_apis_and_survives_losing_one(
    topology: tuple[Processes, Process, Process],
) -> None:
    processes, api_a, api_b = topology
    async with (
        httpx.AsyncClient(base_url=api_a.base, timeout=30) as a,
        httpx.AsyncClient(base_url=api_b.base, timeout=30) as b,
    ):
        # Register on A, sign in on B: one user table, one signing secret.
        email = f"journey-{uuid.uuid4().hex[:8]}@example.com"
        credentials = {"email": email, "password": DEFAULT_PASSWORD}
        registered = await a.post("/api/v1/auth/register", json=credentials)
        assert registered.status_code == 201, registered.text
        user_id = registered.json()["userId"]
        login = await b.post("/api/v1/auth/login", json=credentials)
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        me = {"Authorization": f"Bearer {token}"}
        assert (await a.get("/api/v1/auth/me", headers=me)).json()["userId"] == user_id

        # Link the sandbox institution on B; A sees the accounts (and their sealed secrets).
        linked = await b.post(
            "/api/v1/accounts/link",
            json={"provider": "sandbox", "authCode": "journey:always-open"},
            headers=me,
        )
        assert linked.status_code == 201, linked.text
        brokerage = next(x for x in linked.json()["accounts"] if x["type"] == "brokerage")
        account_id = brokerage["accountId"]
        listed = (await a.get("/api/v1/accounts", headers=me)).json()["accounts"]
        assert account_id in {x["accountId"] for x in listed}

        # A portfolio following the account, made on B.
        created = await b.post(
            "/api/v1/portfolio/", json={"name": "Journey", "accountId": account_id}, headers=me
        )
        assert created.status_code == 201, created.text
        portfolio_id = created.json()["portfolioId"]

        # Watchlist: added on A, read on B.
        added = await a.post(
            "/api/v1/watchlist/add", json={"userId": user_id, "asset": "BTC-USD"}, headers=me
        )
        assert added.status_code == 201, added.text
        watched = (await b.get(f"/api/v1/watchlist/{user_id}", headers=me)).json()["watchlist"]
        assert [entry["asset"] for entry in watched] == ["BTC-USD"]

        # A live quote over the WebSocket of A, a later one than its snapshot.
        async with open_socket(f"ws://127.0.0.1:{api_a.port}{WS_PATH}?token={token}") as ws:
            assert (await receive(ws, within=10))["type"] == "ready"
            replies = await exchange(ws, {"action": "subscribe", "symbols": ["BTC-USD"]})
            snapshot = next(r for r in replies if r["type"] == "quote")
            update = await receive(ws, within=30)
            while not (update["type"] == "quote" and update["timestamp"] > snapshot["timestamp"]):
                update = await receive(ws, within=30)
            assert update["symbol"] == "BTC-USD"
            assert Decimal(str(update["price"])) > 0

        # A trade placed on B is submitted by the worker; its state is read on A.
        placed = await b.post(
            "/api/v1/trades/execute",
            json={"accountId": account_id, "asset": "KO", "action": "buy", "quantity": "3"},
            headers=me,
        )
        assert placed.status_code in (201, 202), placed.text
        trade_id = placed.json()["tradeId"]

        async def filled() -> dict[str, Any] | None:
            trade: dict[str, Any] = (await a.get(f"/api/v1/trades/{trade_id}", headers=me)).json()
            return trade if trade["status"] == "filled" else None

        trade = await wait_until("the trade to fill", filled, processes)
        assert Decimal(str(trade["filledQuantity"])) == 3

        # The fill re-syncs the account on the worker, which mirrors it into the portfolio.
        async def mirrored() -> list[dict[str, Any]]:
            rows = await b.get(f"/api/v1/portfolio/{portfolio_id}/transactions", headers=me)
            return [r for r in rows.json()["transactions"] if r["symbol"] == "KO"]

        (ko,) = await wait_until("the fill in the portfolio", mirrored, processes)
        assert (ko["type"], Decimal(str(ko["quantity"]))) == ("buy", 3)

        performance = await a.get(f"/api/v1/portfolio/{portfolio_id}/performance", headers=me)
        assert performance.status_code == 200, performance.text
        held = {h["symbol"]: Decimal(str(h["quantity"])) for h in performance.json()["holdings"]}
        assert held["KO"] >= 3

        # A PDF report: requested on B, rendered by the worker, polled on A, downloaded on B
        # (the file is in the data directory the processes share).
        queued = await b.post(
            "/api/v1/reports/",
            json={"type": "portfolio_summary", "format": "pdf", "portfolioId": portfolio_id},
            headers=me,
        )
        assert queued.status_code == 202, queued.text
        report_id = queued.json()["reportId"]

        async def rendered() -> dict[str, Any] | None:
            report: dict[str, Any] = (
                await a.get(f"/api/v1/reports/{report_id}", headers=me)
            ).json()
            return report if report["status"] in ("completed", "failed") else None

        report = await wait_until("the report", rendered, processes, within=90)
        assert report["status"] == "completed", report
        pdf = await b.get(f"/api/v1/reports/{report_id}/download", headers=me)
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
        assert "Journey" in text
        assert "KO" in text

        # Traffic on both; A dies (SIGKILL: a crash, no goodbye) in the middle of it.
        await survives_losing_one(processes, api_a, a, b, me, user_id)


async def survives_losing_one(
    processes: Processes,
    api_a: Process,
    a: httpx.AsyncClient,
    b: httpx.AsyncClient,
    me: dict[str, str],
    user_id: str,
) -> None:
    """Requests flow to both APIs; A is killed; every request to B, before, during and after,
    is answered, while A's fail only from the kill on."""
    answered: dict[str, list[str]] = {"a": [], "b": []}
    milestones: list[tuple[int, asyncio.Event]] = []
    stop = asyncio.Event()

    def when_b_answered(count: int) -> asyncio.Event:
        event = asyncio.Event()
        milestones.append((len(answered["b"]) + count, event))
        return event

    async def traffic(name: str, client: httpx.AsyncClient) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            path = f"/api/v1/watchlist/{user_id}" if n % 2 else "/api/v1/accounts"
            try:
                answered[name].append(str((await client.get(path, headers=me)).status_code))
            except httpx.TransportError as exc:
                answered[name].append(type(exc).__name__)
                await asyncio.sleep(0.05)
            for count, event in milestones:
                if len(answered["b"]) >= count:
                    event.set()

    warm = when_b_answered(10)
    load = [
        asyncio.create_task(traffic(name, client))
        for name, client in (("a", a), ("a", a), ("b", b), ("b", b))
    ]
    try:
        await asyncio.wait_for(warm.wait(), 30)
        a_before = len(answered["a"])
        api_a.send(signal.SIGKILL)
        await asyncio.to_thread(api_a.popen.wait, 10)
        await asyncio.wait_for(when_b_answered(20).wait(), 30)
    finally:
        stop.set()
        await asyncio.gather(*load)
    assert set(answered["b"]) == {"200"}, processes.outputs()
    assert a_before > 0
    assert set(answered["a"][:a_before]) == {"200"}
    assert "200" not in answered["a"][a_before + 2 :]  # at most the two in flight got through
    with pytest.raises(httpx.ConnectError):
        await a.get("/healthz")

    # B still writes and reads, and the worker still works for it.
    added = await b.post(
        "/api/v1/watchlist/add", json={"userId": user_id, "asset": "AAPL"}, headers=me
    )
    assert added.status_code == 201, added.text
    watched = (await b.get(f"/api/v1/watchlist/{user_id}", headers=me)).json()["watchlist"]
    assert [entry["asset"] for entry in watched] == ["BTC-USD", "AAPL"]
    assert (await b.get("/readyz")).status_code == 200
