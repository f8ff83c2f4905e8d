"""`flint worker` on SIGTERM (Celery's warm shutdown), as a container stop sends it to PID 1: it
takes no new task, lets the one running finish and record its result, then exits. Trading
through the SnapTrade stub, whose answer to the order is held back while the signal arrives.
(A worker killed hard instead leaves its unacknowledged task to another worker: tests/trades/
test_worker_crash.py.)"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import DEFAULT_PASSWORD, service_url
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.server import HOLD, RunningStub, run_stub
from tests.system.processes import Processes, flint_env, fresh_databases, running

pytestmark = [pytest.mark.xdist_group("rabbitmq"), pytest.mark.postgres]


@pytest.fixture
def broker_stub() -> Iterator[tuple[RunningStub, snaptrade_stub.SnapTradeState]]:
    app = snaptrade_stub.create_app()
    with run_stub(app) as stub:
        yield stub, app.state.snaptrade


@pytest.mark.timeout(180)
def test_sigterm_lets_the_running_task_finish_and_record_its_result(
    tmp_path: Path, broker_stub: tuple[RunningStub, snaptrade_stub.SnapTradeState]
) -> None:
    stub, state = broker_stub
    amqp = service_url("FLINT_TEST_AMQP_URL", "RabbitMQ")
    with fresh_databases("flint") as (database,):
        env = flint_env(
            FLINT_DATA_DIR=str(tmp_path / "data"),
            FLINT_DATABASE_URL=database,
            FLINT_BROKER_URL=amqp,
            FLINT_TASK_QUEUE=f"flint-sigterm-{uuid.uuid4().hex[:8]}",
            FLINT_CREDENTIALS_KEYS=Fernet.generate_key().decode(),
            FLINT_PERFORMANCE_WORKERS="0",
            FLINT_SNAPTRADE_CLIENT_ID=snaptrade_stub.CLIENT_ID,
            FLINT_SNAPTRADE_CONSUMER_KEY=snaptrade_stub.CONSUMER_KEY,
            FLINT_SNAPTRADE_BASE_URL=f"{stub.url}/api/v1",
            FLINT_TRADE_WAIT_SECONDS="0",
            FLINT_VENDOR_READ_TIMEOUT="60",
        )
        with running(tmp_path, env) as processes:
            processes.run("migrate", "migrate")
            api = processes.start("api", "serve", api=True)
            processes.wait_ready(api)
            walk_through(processes, api.base, state, stub)


def walk_through(
    processes: Processes,
    base: str,
    state: snaptrade_stub.SnapTradeState,
    stub: RunningStub,
) -> None:
    http = httpx.Client(base_url=base, timeout=30)
    email = f"sigterm-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": DEFAULT_PASSWORD}
    assert http.post("/api/v1/auth/register", json=credentials).status_code == 201
    token = http.post("/api/v1/auth/login", json=credentials).json()["token"]
    me = {"Authorization": f"Bearer {token}"}
    user_id = http.get("/api/v1/auth/me", headers=me).json()["userId"]
    assert http.post(
        "/api/v1/accounts/connect", json={"provider": "snaptrade"}, headers=me
    ).is_success
    authorization = state.connect(user_id)
    state.fund(Decimal("10000"))  # two AAPL at real price levels
    linked = http.post(
        "/api/v1/accounts/link",
        json={"provider": "snaptrade", "authCode": authorization},
        headers=me,
    )
    assert linked.status_code == 201, linked.text
    account_id = linked.json()["accountId"]

    # The broker records the order, then holds its answer back until the test lets it go.
    stub.control.set("lost_response_timeout", delay=HOLD)
    placed = http.post(
        "/api/v1/trades/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"},
        headers=me,
    )
    assert placed.status_code == 202, placed.text
    trade_id = placed.json()["tradeId"]

    worker = processes.start("worker", "worker", "--concurrency=1")
    processes.wait_for("the order at the broker", lambda: len(state.orders_placed()) == 1)
    worker.popen.send_signal(signal.SIGTERM)  # the main process only, as PID 1 gets it
    time.sleep(1)
    assert worker.alive(), "the worker exited with a task running"
    assert http.get(f"/api/v1/trades/{trade_id}", headers=me).json()["status"] == "pending"
    assert stub.control.held == 1  # the order's answer has not come back yet
    assert worker.alive(), "the worker exited with a task running"

    stub.control.release()  # the answer arrives only now
    assert worker.popen.wait(timeout=30) == 0, worker.output()
    trade = http.get(f"/api/v1/trades/{trade_id}", headers=me).json()
    assert trade["status"] == "filled", trade
    assert trade["providerOrderId"] == state.orders_placed()[0]["brokerage_order_id"]
    events = http.get(f"/api/v1/trades/{trade_id}/events", headers=me).json()["events"]
    assert [event["status"] for event in events] == ["pending", "filled"]
    assert events[1]["detail"].get("source") != "recovered"  # this worker's own answer
    assert "warm shutdown" in worker.output().lower()
    assert len(state.orders_placed()) == 1
