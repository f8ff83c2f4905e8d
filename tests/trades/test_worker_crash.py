"""Crash safety in the production topology: API and workers as separate processes on
RabbitMQ and PostgreSQL, trading through the SnapTrade stub. A worker killed (SIGKILL) after
the broker received the order but before Flint recorded it leaves the job to another worker,
which finds the order by its client order id instead of placing a second one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import DEFAULT_PASSWORD, service_url
from tests.notifications.test_outbox import free_port
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.server import HOLD, RunningStub, run_stub

pytestmark = [pytest.mark.waits, pytest.mark.xdist_group("rabbitmq"), pytest.mark.postgres]


def start(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flint.app.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(what: str, check: object, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-5000:]}")


@pytest.fixture
def broker_stub() -> Iterator[tuple[RunningStub, snaptrade_stub.SnapTradeState]]:
    app = snaptrade_stub.create_app()
    with run_stub(app) as running:
        yield running, app.state.snaptrade


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_worker_killed_mid_order_leaves_exactly_one_order_and_a_final_trade(
    database_url: str,
    tmp_path: Path,
    broker_stub: tuple[RunningStub, snaptrade_stub.SnapTradeState],
    task_queue: str,
) -> None:
    stub, state = broker_stub
    amqp = service_url("FLINT_TEST_AMQP_URL", "RabbitMQ")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLINT_")},
        "FLINT_DATA_DIR": str(tmp_path / "data"),
        "FLINT_DATABASE_URL": database_url,
        "FLINT_BROKER_URL": amqp,
        "FLINT_TASK_QUEUE": task_queue,
        "FLINT_PORT": str(port),
        "FLINT_LOG_LEVEL": "INFO",
        "FLINT_PERFORMANCE_WORKERS": "0",  # no chart or performance here
        "FLINT_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "FLINT_SNAPTRADE_CLIENT_ID": snaptrade_stub.CLIENT_ID,
        "FLINT_SNAPTRADE_CONSUMER_KEY": snaptrade_stub.CONSUMER_KEY,
        "FLINT_SNAPTRADE_BASE_URL": f"{stub.url}/api/v1",
        "FLINT_TRADE_WAIT_SECONDS": "0",
        "FLINT_VENDOR_READ_TIMEOUT": "60",
        # The first worker is dead before the second starts: a short send window lets the
        # second ask the broker after 6 s instead of 30.
        "FLINT_TRADE_SEND_WINDOW_SECONDS": "6",
    }
    log = tmp_path / "processes.log"
    base = f"http://127.0.0.1:{port}"
    api = start("serve", env=env, log=log)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        wait_for("the API", lambda: _ready(base), log)
        http = httpx.Client(base_url=base, timeout=30)
        email = f"crash-{uuid.uuid4().hex[:8]}@example.com"
        assert (
            http.post(
                "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
            ).status_code
            == 201
        )
        token = http.post(
            "/api/v1/auth/login", json={"email": email, "password": DEFAULT_PASSWORD}
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        user_id = http.get("/api/v1/auth/me", headers=headers).json()["userId"]

        portal = http.post(
            "/api/v1/accounts/connect", json={"provider": "snaptrade"}, headers=headers
        )
        assert portal.status_code == 200, portal.text
        authorization = state.connect(user_id)
        state.fund(Decimal("10000"))  # two AAPL at real price levels
        linked = http.post(
            "/api/v1/accounts/link",
            json={"provider": "snaptrade", "authCode": authorization},
            headers=headers,
        )
        assert linked.status_code == 201, linked.text
        account_id = linked.json()["accountId"]

        # The broker will record the order, then not answer until the worker is dead.
        stub.control.set("lost_response_timeout", delay=HOLD)
        placed = http.post(
            "/api/v1/trades/execute",
            json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"},
            headers=headers,
        )
        assert placed.status_code == 202, placed.text
        trade_id = placed.json()["tradeId"]
        assert placed.json()["status"] == "pending"

        workers.append(start("worker", "--pool=solo", "--name=first", env=env, log=log))
        wait_for("the order at the broker", lambda: len(_orders(state)) == 1, log)
        stop(workers[0], signal.SIGKILL)  # between the broker's record and Flint's
        stub.control.release()  # to nobody
        # From now on the broker's order records carry no client order id, as SnapTrade
        # documents them: the next worker must recognise the order from Flint's own record.
        stub.control.set("no_client_ids")
        assert http.get(f"/api/v1/trades/{trade_id}", headers=headers).json()["status"] == "pending"

        workers.append(start("worker", "--pool=solo", "--name=second", env=env, log=log))
        wait_for(
            "the trade to reach a final state",
            lambda: (
                http.get(f"/api/v1/trades/{trade_id}", headers=headers).json()["status"] == "filled"
            ),
            log,
            seconds=90,
        )
        trade = http.get(f"/api/v1/trades/{trade_id}", headers=headers).json()
        orders = _orders(state)
        assert len(orders) == 1  # never a second order
        assert orders[0]["client_order_id"] == trade_id
        assert trade["providerOrderId"] == orders[0]["brokerage_order_id"]
        assert trade["filledQuantity"] == "2"
        trail = http.get(f"/api/v1/trades/{trade_id}/events", headers=headers).json()["events"]
        assert [event["status"] for event in trail] == ["pending", "filled"]
        assert trail[1]["detail"]["source"] == "recovered"

        # Nothing the processes logged holds a provider secret.
        logged = log.read_text()
        assert "Task flint.trades.submit" in logged
        assert state.users[user_id].secret not in logged
        assert snaptrade_stub.CONSUMER_KEY not in logged
        assert env["FLINT_CREDENTIALS_KEYS"] not in logged
    finally:
        for process in (*workers, api):
            stop(process)


def _orders(state: snaptrade_stub.SnapTradeState) -> list[dict[str, object]]:
    return [
        order
        for account in state.accounts.values()
        for order in account.orders
        if order.get("client_order_id")
    ]


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
