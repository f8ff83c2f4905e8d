"""The production topology in miniature: API and a Celery worker as separate processes, talking
through RabbitMQ. A password-reset request must come out of the worker as an email, and the
quote refresh task must run there and store what it fetched."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from celery import Celery

from tests.conftest import DEFAULT_PASSWORD, migrated_data_dir, service_url
from tests.notifications.test_outbox import free_port

pytestmark = [pytest.mark.waits, pytest.mark.xdist_group("rabbitmq")]

# A loaded 2-core CI machine can take more than httpx's default 5 s to hash a password.
http = httpx.Client(timeout=30)


def flint(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flint.app.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def topology(
    tmp_path: Path, task_queue: str, sqlite_template: Path
) -> Iterator[tuple[str, Path, Path, dict[str, str]]]:
    amqp = service_url("FLINT_TEST_AMQP_URL", "RabbitMQ")
    port = free_port()
    env = {
        **os.environ,
        "FLINT_DATA_DIR": str(migrated_data_dir(tmp_path / "data", sqlite_template)),
        "FLINT_BROKER_URL": amqp,
        "FLINT_TASK_QUEUE": task_queue,
        "FLINT_PORT": str(port),
        "FLINT_LOG_LEVEL": "INFO",
        "FLINT_PERFORMANCE_WORKERS": "0",  # no chart or performance here
    }
    log = tmp_path / "processes.log"
    processes = [
        flint("worker", "--pool=solo", "--loglevel=INFO", env=env, log=log),
        flint("serve", env=env, log=log),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                pytest.fail(f"Flint did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.3)
        yield base, tmp_path / "data" / "outbox", log, env
    finally:
        for process in processes:
            stop(process)


def test_a_reset_request_is_delivered_by_a_worker_through_rabbitmq(
    topology: tuple[str, Path, Path, dict[str, str]],
) -> None:
    base, outbox, log, _ = topology
    email = f"rabbit-{uuid.uuid4().hex[:8]}@example.com"
    ready = httpx.get(f"{base}/readyz", timeout=5).json()
    assert ready["checks"]["broker"] == {"status": "ok", "detail": None, "required": True}
    registered = http.post(
        f"{base}/api/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
    )
    assert registered.status_code == 201

    asked = http.post(f"{base}/api/auth/reset-password", json={"email": email})
    assert asked.status_code == 202

    deadline = time.monotonic() + 30
    files: list[Path] = []
    while time.monotonic() < deadline and not files:
        files = list(outbox.glob("*.eml")) if outbox.exists() else []
        time.sleep(0.2)
    assert files, f"no email delivered:\n{log.read_text()[-4000:]}"
    content = files[0].read_text()
    assert f"To: {email}" in content
    assert "Reset token:" in content


def test_the_quote_refresh_task_runs_in_a_worker_and_stores_watched_quotes(
    topology: tuple[str, Path, Path, dict[str, str]],
) -> None:
    base, _, log, env = topology
    email = f"watcher-{uuid.uuid4().hex[:8]}@example.com"
    http.post(f"{base}/api/auth/register", json={"email": email, "password": DEFAULT_PASSWORD})
    login = http.post(f"{base}/api/auth/login", json={"email": email, "password": DEFAULT_PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    me = http.get(f"{base}/api/v1/auth/me", headers=headers).json()
    for symbol in ("AAPL", "BTC-USD"):
        added = http.post(
            f"{base}/api/watchlist/add",
            json={"userId": me["userId"], "asset": symbol},
            headers=headers,
        )
        assert added.status_code == 201

    producer = Celery(broker=env["FLINT_BROKER_URL"])
    producer.send_task("flint.market.refresh_quotes", queue=env["FLINT_TASK_QUEUE"])

    database = Path(env["FLINT_DATA_DIR"]) / "flint.db"
    deadline = time.monotonic() + 30
    stored: list[tuple[str, str]] = []
    while time.monotonic() < deadline and len(stored) < 2:
        with closing(sqlite3.connect(database)) as conn:
            stored = conn.execute(
                "SELECT symbol, provider FROM market_quotes ORDER BY symbol"
            ).fetchall()
        time.sleep(0.3)
    assert stored == [("AAPL", "simulated"), ("BTC-USD", "simulated")], log.read_text()[-4000:]
