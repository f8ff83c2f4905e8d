"""RabbitMQ going away under the production topology (API, worker and beat as processes, on
PostgreSQL, trading through the SnapTrade stub), and a worker dying with its work handed off
to nobody. Work committed while the hand-off to the broker failed is kept (`flint.jobs`'
`job_handoffs`) and handed off again as soon as a worker is connected: a trade accepted as
pending during the outage fills within seconds of RabbitMQ's return, and the email of a fill
that a killed worker committed goes out within seconds of the next worker starting. RabbitMQ
sits behind a `faults.Gate`, so no other test loses its server."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from kombu.utils.url import url_to_parts

from tests.conftest import service_url
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.server import HOLD, RunningStub
from tests.system.faults import GateThread
from tests.system.processes import Process, Processes
from tests.system.trading import Trader, snaptrade_trader, trading_api

pytestmark = [pytest.mark.waits, pytest.mark.xdist_group("rabbitmq"), pytest.mark.postgres]

OUTAGE = 7.0
"""Long enough for Celery's own reconnect backoff (2, 4, 6 s...) to have grown: its tries
after 6 and 12 s straddle the return."""
BACK_WITHIN = 15.0
RECONNECTED_WITHIN = 3.0
FUNDS = Decimal("20000")  # two trades of two AAPL at real price levels


@pytest.fixture
def rabbitmq() -> Iterator[tuple[str, GateThread]]:
    """RabbitMQ's URL, and a gate in front of it: open, and shut at the end."""
    url = service_url("FLINT_TEST_AMQP_URL", "RabbitMQ")
    parts = url_to_parts(url)
    with GateThread(parts.hostname or "127.0.0.1", parts.port or 5672) as gate:
        yield url, gate


def through(url: str, gate: GateThread) -> str:
    parts = url_to_parts(url)
    return url.replace(f"@{parts.hostname}:{parts.port}/", f"@127.0.0.1:{gate.port}/", 1)


def logged(process: Process, text: str) -> bool:
    return text in process.log.read_text(errors="replace")


def connections(worker: Process) -> int:
    """How often the worker has connected to the broker to take tasks."""
    return worker.log.read_text(errors="replace").count("Connected to amqp://")


def emails(tmp_path: Path) -> list[Path]:
    """The emails sent (no SMTP server configured: each is a file of the data dir's outbox)."""
    return sorted((tmp_path / "data" / "outbox").glob("*.eml"))


def fill(processes: Processes, trader: Trader, trade_id: str, within: float) -> None:
    processes.wait_for(
        f"trade {trade_id} filled", lambda: trader.status(trade_id) == "filled", within
    )


@pytest.mark.timeout(240)
def test_a_trade_accepted_while_rabbitmq_is_down_fills_within_15_s_of_its_return(
    tmp_path: Path,
    broker_stub: tuple[RunningStub, snaptrade_stub.SnapTradeState],
    rabbitmq: tuple[str, GateThread],
) -> None:
    (stub, state), (url, gate) = broker_stub, rabbitmq
    with trading_api(tmp_path, stub.url, through(url, gate)) as (processes, api):
        worker = processes.start("worker", "worker", "--concurrency=1")
        processes.start("beat", "beat")
        processes.wait_ready(api)
        trader = snaptrade_trader(api.base, state, "broker-down", funds=FUNDS)
        before = trader.trade()["tradeId"]  # the broker up: the worker takes it at once
        fill(processes, trader, before, within=60)

        connected = connections(worker)
        gate.shut()
        accepted = time.monotonic()
        during = trader.trade()["tradeId"]
        took = time.monotonic() - accepted
        time.sleep(OUTAGE)
        assert trader.status(during) == "pending"
        gate.open()
        reopened = time.monotonic()
        processes.wait_for(
            "the worker back on RabbitMQ", lambda: connections(worker) > connected, 60
        )
        reconnected = time.monotonic() - reopened
        fill(processes, trader, during, within=BACK_WITHIN + 30)
        filled_after = time.monotonic() - reopened
        print(
            f"accepted in {took:.2f} s; the worker reconnected {reconnected:.2f} s and the "
            f"trade filled {filled_after:.2f} s after RabbitMQ returned"
        )

        assert took < 5, f"accepting the trade took {took:.2f} s"
        assert reconnected <= RECONNECTED_WITHIN, f"reconnected after {reconnected:.2f} s"
        assert filled_after <= BACK_WITHIN, f"filled {filled_after:.2f} s after the return"
        assert [event["status"] for event in trader.events(during)] == ["pending", "filled"]
        orders = state.orders_placed()
        assert len(orders) == 2  # one each, never a second one
        assert {order["client_order_id"] for order in orders} == {before, during}


@pytest.mark.timeout(240)
def test_the_email_of_a_fill_a_killed_worker_never_handed_off_goes_out_soon_after_a_worker_starts(
    tmp_path: Path,
    broker_stub: tuple[RunningStub, snaptrade_stub.SnapTradeState],
    rabbitmq: tuple[str, GateThread],
) -> None:
    (stub, state), (url, gate) = broker_stub, rabbitmq
    with trading_api(tmp_path, stub.url, url) as (processes, api):
        processes.start("beat", "beat")
        # The worker alone reaches RabbitMQ through the gate: shut, it can hand off nothing.
        first = processes.start(
            "worker-1", "worker", "--concurrency=1", FLINT_BROKER_URL=through(url, gate)
        )
        processes.wait_ready(api)
        trader = snaptrade_trader(api.base, state, "worker-killed", funds=FUNDS)

        stub.control.set("lost_response_timeout", delay=HOLD)  # the order's answer waits
        trade_id = trader.trade()["tradeId"]
        processes.wait_for("the order at the broker", lambda: stub.control.held == 1)
        gate.shut()
        stub.control.release()  # the fill reaches the worker, which commits it...
        fill(processes, trader, trade_id, within=60)
        processes.wait_for(  # ...and fails to hand off its email (RabbitMQ is out of reach)
            "worker-1's failed hand-off", lambda: logged(first, "job_handoff_failed")
        )
        first.stop(signal.SIGKILL)
        assert emails(tmp_path) == []

        second = processes.start("worker-2", "worker", "--concurrency=1")
        processes.wait_for("worker-2 ready", lambda: logged(second, " ready."), within=60)
        ready = time.monotonic()
        processes.wait_for("the fill's email", lambda: emails(tmp_path), BACK_WITHIN + 30)
        sent_after = time.monotonic() - ready
        print(f"the email went out {sent_after:.2f} s after the next worker was ready")

        assert sent_after <= BACK_WITHIN, f"sent {sent_after:.2f} s after the worker started"
        (email,) = emails(tmp_path)
        assert f"Trade {trade_id}" in email.read_text()
        assert trader.status(trade_id) == "filled"
        assert len(state.orders_placed()) == 1
