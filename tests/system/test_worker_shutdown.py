"""`flint worker` on SIGTERM (Celery's warm shutdown), as a container stop sends it to PID 1: it
takes no new task, lets the one running finish and record its result, then exits. Trading
through the SnapTrade stub, whose answer to the order is held back while the signal arrives.
(A worker killed hard instead leaves its unacknowledged task to another worker: tests/trades/
test_worker_crash.py.)"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import service_url
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.server import HOLD, RunningStub
from tests.system.processes import Processes
from tests.system.trading import snaptrade_trader, trading_api

pytestmark = [pytest.mark.waits, pytest.mark.xdist_group("rabbitmq"), pytest.mark.postgres]


@pytest.mark.timeout(180)
def test_sigterm_lets_the_running_task_finish_and_record_its_result(
    tmp_path: Path, broker_stub: tuple[RunningStub, snaptrade_stub.SnapTradeState]
) -> None:
    stub, state = broker_stub
    amqp = service_url("FLINT_TEST_AMQP_URL", "RabbitMQ")
    with trading_api(tmp_path, stub.url, amqp) as (processes, api):
        processes.wait_ready(api)
        walk_through(processes, api.base, state, stub)


def walk_through(
    processes: Processes,
    base: str,
    state: snaptrade_stub.SnapTradeState,
    stub: RunningStub,
) -> None:
    trader = snaptrade_trader(base, state, "sigterm")

    # The broker records the order, then holds its answer back until the test lets it go.
    stub.control.set("lost_response_timeout", delay=HOLD)
    trade_id = trader.trade()["tradeId"]

    worker = processes.start("worker", "worker", "--concurrency=1")
    processes.wait_for("the order at the broker", lambda: len(state.orders_placed()) == 1)
    worker.popen.send_signal(signal.SIGTERM)  # the main process only, as PID 1 gets it
    time.sleep(1)
    assert worker.alive(), "the worker exited with a task running"
    assert trader.status(trade_id) == "pending"
    assert stub.control.held == 1  # the order's answer has not come back yet
    assert worker.alive(), "the worker exited with a task running"

    stub.control.release()  # the answer arrives only now
    assert worker.popen.wait(timeout=30) == 0, worker.output()
    trade = trader.http.get(f"/api/v1/trades/{trade_id}", headers=trader.headers).json()
    assert trade["status"] == "filled", trade
    assert trade["providerOrderId"] == state.orders_placed()[0]["brokerage_order_id"]
    events = trader.events(trade_id)
    assert [event["status"] for event in events] == ["pending", "filled"]
    assert events[1]["detail"].get("source") != "recovered"  # this worker's own answer
    assert "warm shutdown" in worker.output().lower()
    assert len(state.orders_placed()) == 1
