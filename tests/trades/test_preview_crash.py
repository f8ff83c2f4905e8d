"""Previews across processes and crashes, in the production topology (two API processes and
workers on RabbitMQ and PostgreSQL, trading through the SnapTrade stub): a trade previewed on
one API process is executed on the other, and a worker killed (SIGKILL) after SnapTrade
received the checked trade but before Flint recorded it leaves the job to another worker,
which finds the order instead of placing the checked trade again."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import DEFAULT_PASSWORD, service_url
from tests.notifications.test_outbox import free_port
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.server import HOLD, RunningStub, run_stub
from tests.stubs.snaptrade.state import ImpactState
from tests.trades.test_trades_snaptrade import FUNDS
from tests.trades.test_worker_crash import _ready, start, stop, wait_for

pytestmark = [pytest.mark.waits, pytest.mark.xdist_group("rabbitmq"), pytest.mark.postgres]

Broker = tuple[RunningStub, snaptrade_stub.SnapTradeState, ImpactState]


@pytest.fixture
def broker_stub() -> Iterator[Broker]:
    app = snaptrade_stub.create_app()
    with run_stub(app) as running:
        yield running, app.state.snaptrade, app.state.snaptrade.impact


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_preview_from_one_api_process_is_placed_once_through_a_worker_crash(
    database_url: str, tmp_path: Path, broker_stub: Broker, task_queue: str
) -> None:
    stub, state, impact = broker_stub
    ports = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLINT_")},
        "FLINT_DATA_DIR": str(tmp_path / "data"),
        "FLINT_DATABASE_URL": database_url,
        "FLINT_BROKER_URL": service_url("FLINT_TEST_AMQP_URL", "RabbitMQ"),
        "FLINT_TASK_QUEUE": task_queue,
        "FLINT_LOG_LEVEL": "INFO",
        "FLINT_PERFORMANCE_WORKERS": "0",  # no chart or performance here
        "FLINT_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "FLINT_SNAPTRADE_CLIENT_ID": snaptrade_stub.CLIENT_ID,
        "FLINT_SNAPTRADE_CONSUMER_KEY": snaptrade_stub.CONSUMER_KEY,
        "FLINT_SNAPTRADE_BASE_URL": stub.url,
        "FLINT_TRADE_WAIT_SECONDS": "0",
        "FLINT_VENDOR_READ_TIMEOUT": "60",
        # The first worker is dead before the second starts: a short send window lets the
        # second ask the broker after 6 s instead of 30.
        "FLINT_TRADE_SEND_WINDOW_SECONDS": "6",
    }
    log = tmp_path / "processes.log"
    first_api = start("serve", env=env | {"FLINT_PORT": str(ports[0])}, log=log)
    wait_for("the first API", lambda: _ready(f"http://127.0.0.1:{ports[0]}"), log)
    second_api = start("serve", env=env | {"FLINT_PORT": str(ports[1])}, log=log)
    processes: list[subprocess.Popen[bytes]] = [first_api, second_api]
    try:
        wait_for("the second API", lambda: _ready(f"http://127.0.0.1:{ports[1]}"), log)
        one = httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30)
        other = httpx.Client(base_url=f"http://127.0.0.1:{ports[1]}", timeout=30)
        email = f"preview-{uuid.uuid4().hex[:8]}@example.com"
        credentials = {"email": email, "password": DEFAULT_PASSWORD}
        assert one.post("/api/v1/auth/register", json=credentials).status_code == 201
        token = one.post("/api/v1/auth/login", json=credentials).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        user_id = one.get("/api/v1/auth/me", headers=headers).json()["userId"]
        portal = one.post(
            "/api/v1/accounts/connect", json={"provider": "snaptrade"}, headers=headers
        )
        assert portal.status_code == 200, portal.text
        authorization = state.connect(user_id)
        state.fund(FUNDS)  # the balances sample's 410.71 buys less than two AAPL at real prices
        linked = one.post(
            "/api/v1/accounts/link",
            json={"provider": "snaptrade", "authCode": authorization},
            headers=headers,
        )
        assert linked.status_code == 201, linked.text
        (at_broker,) = state.user_accounts(user_id)
        seeded = len(at_broker.orders)

        order = {"accountId": linked.json()["accountId"], "asset": "AAPL", "action": "buy"}
        previewed = one.post(
            "/api/v1/trades/preview", json=order | {"quantity": "2"}, headers=headers
        )
        assert previewed.status_code == 201, previewed.text
        # SnapTrade will record the checked trade's order, then not answer until the worker is
        # dead.
        stub.control.set("lost_response_timeout", delay=HOLD)
        placed = other.post(
            "/api/v1/trades/execute",
            json={"previewId": previewed.json()["previewId"]},
            headers=headers,
        )
        assert placed.status_code == 202, placed.text
        trade_id = placed.json()["tradeId"]

        processes.append(start("worker", "--pool=solo", "--name=first", env=env, log=log))
        wait_for("the order at SnapTrade", lambda: len(at_broker.orders) > seeded, log)
        stop(processes[-1], signal.SIGKILL)  # between SnapTrade's record and Flint's
        stub.control.release()  # to nobody
        stub.control.set("success")
        processes.append(start("worker", "--pool=solo", "--name=second", env=env, log=log))
        wait_for(
            "the trade to reach a final state",
            lambda: (
                one.get(f"/api/v1/trades/{trade_id}", headers=headers).json()["status"] == "filled"
            ),
            log,
            seconds=90,
        )
        trade = one.get(f"/api/v1/trades/{trade_id}", headers=headers).json()
        assert len(at_broker.orders) == seeded + 1  # never a second order
        assert len(impact.placed()) == 1
        assert trade["providerOrderId"] == at_broker.orders[-1]["brokerage_order_id"]
        trail = one.get(f"/api/v1/trades/{trade_id}/events", headers=headers).json()["events"]
        assert [(e["status"], e["detail"].get("source")) for e in trail] == [
            ("pending", "api"),
            ("filled", "recovered"),
        ]
        again = one.post(
            "/api/v1/trades/execute",
            json={"previewId": previewed.json()["previewId"]},
            headers=headers,
        )
        assert again.status_code == 409, again.text
    finally:
        for process in processes:
            stop(process)
