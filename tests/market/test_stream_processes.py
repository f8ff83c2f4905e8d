"""Two API processes behind one Redis: a quote polled by one reaches the clients of the other.

Process A polls; process B does not (its poller is off), so a fresh quote that a client of B
receives after its snapshot can only have come from A through the Redis channel. Both share a
migrated SQLite file and a JWT secret, so one token opens a stream on either.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.app.test_cli import clean_env
from tests.conftest import service_url, sign_up
from tests.market.stream_client import WS_PATH, exchange, open_socket, receive
from tests.notifications.test_outbox import free_port

pytestmark = [pytest.mark.waits, pytest.mark.xdist_group("stream-processes")]


@dataclass
class Api:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_PATH}?token={token}"

    def output(self) -> str:
        return f"--- {self.name} ---\n{self.log.read_text()[-3000:]}"


def start_api(name: str, tmp_path: Path, **variables: str) -> Api:
    port = free_port()
    log = tmp_path / f"{name}.log"
    env = clean_env(
        FLINT_PORT=str(port),
        FLINT_LOG_FORMAT="console",
        FLINT_LOG_LEVEL="INFO",
        FLINT_PERFORMANCE_WORKERS="0",  # no chart or performance here
        **variables,
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "flint.app.cli", "serve"],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Api(name, process, port, log)


def wait_healthy(api: Api, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        assert api.process.poll() is None, f"{api.name} exited early\n{api.output()}"
        try:
            if httpx.get(f"{api.base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{api.name} did not answer /healthz within {within:g} s\n{api.output()}")
        time.sleep(0.2)


@pytest.fixture
def apis(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Api, Api]]:
    """Process A polls every 0.3 s, process B never; quotes are cached for 0.5 s."""
    redis_url = service_url("FLINT_TEST_REDIS_URL", "Redis")
    # A BTC-USD quote cached in the shared Redis by something else (a benchmark caches its
    # quotes for an hour) would be served for that long instead of A's fresh polls.
    with redis.Redis.from_url(redis_url) as client:
        client.delete("flint:quote:BTC-USD")
    database = tmp_path / "shared.db"
    shutil.copyfile(sqlite_template, database)
    shared = {
        "FLINT_DATA_DIR": str(tmp_path / "data"),
        "FLINT_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "FLINT_REDIS_URL": redis_url,
        "FLINT_JWT_SECRET": f"stream-processes-{uuid.uuid4().hex}",
        "FLINT_BROKER_URL": "memory://",
        "FLINT_STREAM_CHANNEL": f"flint:quotes:test-{uuid.uuid4().hex}",
        # Limits of this run's own: the shared Redis keeps every earlier run's counts, and the
        # sign-up budget (20 an hour per address) is soon spent on 127.0.0.1.
        "FLINT_RATE_LIMIT_NAMESPACE": f"flint-test-{uuid.uuid4().hex}",
        "FLINT_QUOTE_TTL_SECONDS": "0.5",
    }
    started: list[Api] = []
    try:
        started.append(start_api("A", tmp_path, FLINT_STREAM_POLL_SECONDS="0.3", **shared))
        started.append(start_api("B", tmp_path, FLINT_STREAM_POLL_SECONDS="0", **shared))
        for api in started:
            wait_healthy(api)
        yield started[0], started[1]
    finally:
        for api in started:
            if api.process.poll() is None:
                api.process.kill()
            api.process.wait(timeout=10)


def later(message: dict[str, Any], than: dict[str, Any]) -> bool:
    return bool(message["type"] == "quote" and message["timestamp"] > than["timestamp"])


@pytest.mark.timeout(120)
async def test_a_quote_polled_by_one_process_reaches_the_clients_of_another(
    apis: tuple[Api, Api],
) -> None:
    a, b = apis
    async with httpx.AsyncClient(base_url=a.base, timeout=10) as http:
        account = await sign_up(http)
    subscribe = {"action": "subscribe", "symbols": ["BTC-USD"]}

    async with open_socket(a.ws(account.token)) as on_a, open_socket(b.ws(account.token)) as on_b:
        assert (await receive(on_a))["type"] == "ready"
        assert (await receive(on_b))["type"] == "ready"
        await exchange(on_a, subscribe)  # so that A polls BTC-USD
        snapshot = (await exchange(on_b, subscribe))[0]
        assert snapshot["type"] == "quote"

        # Simulated crypto ticks every 5 s; A's poller notices, B only hears it through Redis.
        update = await receive(on_b, within=20)
        while not later(update, snapshot):
            update = await receive(on_b, within=20)
        seen_on_a = await receive(on_a, within=20)
        while seen_on_a["timestamp"] < update["timestamp"]:
            seen_on_a = await receive(on_a, within=20)

        assert update["symbol"] == "BTC-USD"
        assert seen_on_a == update

        # Both stop cleanly on SIGTERM with their clients still connected (uvicorn finishes
        # its shutdown, then re-raises the signal it caught).
        for api in apis:
            api.process.send_signal(signal.SIGTERM)
        for api in apis:
            returncode = await asyncio.to_thread(api.process.wait, 30)
            assert returncode in (0, -signal.SIGTERM), api.output()
            log = api.log.read_text()
            assert "Application shutdown complete" in log, api.output()
            assert "Traceback" not in log, api.output()
            assert account.token not in log, "the token in the URL was logged"
