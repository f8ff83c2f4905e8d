"""`flint serve` on SIGTERM, as a container stop sends it: the listening socket closes, a request
in flight (here a slow client still uploading its body, as on a poor mobile link) is answered in
full, and the process exits; a request that outlasts `--graceful-timeout` is cut off so the stop
never hangs. With `--workers 2` the signal goes to the supervisor only (as PID 1 gets it), which
passes it to each API process."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.conftest import DEFAULT_PASSWORD, migrated_data_dir
from tests.system.processes import Process, Processes, flint_env, running

pytestmark = [pytest.mark.waits, pytest.mark.xdist_group("api-shutdown")]


@pytest.fixture
def processes(tmp_path: Path, sqlite_template: Path) -> Iterator[Processes]:
    env = flint_env(
        FLINT_DATA_DIR=str(migrated_data_dir(tmp_path / "data", sqlite_template)),
        FLINT_BROKER_URL="memory://",
        FLINT_PERFORMANCE_WORKERS="0",
        FLINT_JWT_SECRET=f"shutdown-{uuid.uuid4().hex}",
    )
    with running(tmp_path, env) as started:
        yield started


class SlowUpload:
    """A registration whose body arrives in two parts, the second when the test says so."""

    def __init__(self, api: Process) -> None:
        self.email = f"slow-{uuid.uuid4().hex[:8]}@example.com"
        body = json.dumps({"email": self.email, "password": DEFAULT_PASSWORD}).encode()
        self.first, self.rest = body[:10], body[10:]
        self.sock = socket.create_connection(("127.0.0.1", api.port or 0), timeout=30)
        head = (
            "POST /api/v1/auth/register HTTP/1.1\r\nHost: flint\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.sock.sendall(head.encode() + self.first)

    def finish(self) -> tuple[int, bytes]:
        """Send the rest of the body and read the whole answer: its status and its body."""
        self.sock.sendall(self.rest)
        received = b""
        while chunk := self.sock.recv(65536):
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            if body and b"content-length" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
        self.sock.close()
        return int(received.split(b" ", 2)[1]), received.partition(b"\r\n\r\n")[2]


def users(data_dir: Path) -> set[str]:
    with closing(sqlite3.connect(data_dir / "flint.db")) as db:
        return {row[0] for row in db.execute("SELECT email FROM users")}


def answers(api: Process) -> bool:
    try:
        return httpx.get(f"{api.base}/healthz", timeout=3).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.timeout(120)
def test_sigterm_finishes_the_request_in_flight_and_refuses_new_connections(
    processes: Processes, tmp_path: Path
) -> None:
    api = processes.start("api", "serve", api=True)
    processes.wait_ready(api)
    upload = SlowUpload(api)
    time.sleep(0.5)  # the headers are in: the request is in flight

    api.popen.send_signal(signal.SIGTERM)
    processes.wait_for("the listening socket to close", lambda: not answers(api), within=10)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api.base}/healthz", timeout=3)
    assert api.alive(), "the API exited with a request in flight"

    status, body = upload.finish()
    assert status == 201, body
    assert json.loads(body)["email"] == upload.email
    assert api.popen.wait(timeout=20) in (0, -signal.SIGTERM), api.output()
    assert "Application shutdown complete" in api.output()
    assert users(tmp_path / "data") == {upload.email}


@pytest.mark.timeout(120)
def test_a_request_that_outlasts_the_graceful_timeout_is_cut_off_and_the_stop_ends(
    processes: Processes, tmp_path: Path
) -> None:
    api = processes.start("api", "serve", "--graceful-timeout=2", api=True)
    processes.wait_ready(api)
    upload = SlowUpload(api)
    time.sleep(0.5)

    stopped_at = time.monotonic()
    api.popen.send_signal(signal.SIGTERM)
    assert api.popen.wait(timeout=20) in (0, -signal.SIGTERM), api.output()
    assert time.monotonic() - stopped_at < 10
    assert "timeout graceful shutdown exceeded" in api.output()
    try:
        status, _ = upload.finish()
    except (OSError, IndexError, ValueError):  # reset, or closed without an answer
        status = 0
    assert status != 201
    assert users(tmp_path / "data") == set()


@pytest.mark.timeout(120)
def test_with_two_workers_the_supervisor_passes_sigterm_on_and_both_drain(
    processes: Processes, tmp_path: Path
) -> None:
    api = processes.start("api", "serve", "--workers=2", api=True)
    processes.wait_ready(api)
    processes.wait_for(
        "two API processes", lambda: api.output().count("Started server process") >= 2
    )
    uploads = [SlowUpload(api) for _ in range(4)]  # on whichever process accepted each
    time.sleep(0.5)

    api.popen.send_signal(signal.SIGTERM)  # to the supervisor only, as a container's PID 1
    time.sleep(1)
    assert api.alive()
    answered = [upload.finish() for upload in uploads]
    assert [status for status, _ in answered] == [201] * 4
    assert api.popen.wait(timeout=30) in (0, -signal.SIGTERM), api.output()
    assert api.output().count("Application shutdown complete") == 2
    assert users(tmp_path / "data") == {upload.email for upload in uploads}
