"""One log format: the API and the worker, started as a user starts them, print only JSON
lines, with no warning a user would have to learn to ignore (Celery's banner and root warning,
SQLAlchemy's reflection warning during migrations), and `flint run` (`make run`) prints only
those and its own few lines for people, from start to Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.app.test_cli import FLINT, clean_env, processes_in_group
from tests.notifications.test_outbox import free_port

pytestmark = [pytest.mark.waits, pytest.mark.timeout(300)]


@contextmanager
def started(args: list[str], tmp_path: Path, name: str, **variables: str) -> Iterator[Path]:
    """``flint *args`` on a fresh data dir with the embedded defaults (and ``variables``);
    yields its output file (stdout and stderr together) and stops it at the end of the block."""
    log = tmp_path / f"{name}.log"
    env = clean_env(
        FLINT_DATA_DIR=str(tmp_path / f"data-{name}"),
        FLINT_PORT=str(free_port()),
        FLINT_LOG_LEVEL="INFO",
        **variables,
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            [FLINT, *args],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log.with_suffix(".pid").write_text(str(process.pid))
    try:
        yield log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def lines_until(log: Path, marker: str, within: float) -> list[str]:
    """The lines printed up to the first one containing ``marker``."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        lines = log.read_text(errors="replace").splitlines()
        for index, line in enumerate(lines):
            if marker in line:
                return lines[: index + 1]
        time.sleep(0.25)
    pytest.fail(f"no {marker!r} within {within:g} s:\n{log.read_text()[-3000:]}")


def records(lines: list[str]) -> list[dict[str, Any]]:
    parsed = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}\nin:\n" + "\n".join(lines))
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


def test_the_api_migrating_and_starting_prints_only_json_without_warnings(
    tmp_path: Path,
) -> None:
    with started(["serve", "--migrate"], tmp_path, "api") as log:
        lines = lines_until(log, "Application startup complete", 90)

    logged = records(lines)
    assert [r for r in logged if r["level"] != "info"] == []
    assert any(r["event"] == "database migrated" for r in logged)


def test_the_worker_starting_prints_only_json_at_info_without_warnings(tmp_path: Path) -> None:
    with started(["worker", "--pool=solo"], tmp_path, "worker") as log:
        lines = lines_until(log, " ready.", 90)

    logged = records(lines)
    assert [r for r in logged if r["level"] != "info"] == []
    assert {r["logger"] for r in logged} >= {"celery.worker.consumer.connection"}


RUN_LINES = ("Flint is starting on ", "Flint is ready: open ", "Making the demo user")
DEMO_LINES = ("Demo user ready: ", "  (", "  Open ")


def test_make_run_with_the_demo_says_where_the_docs_are_and_stops_quietly(
    tmp_path: Path,
) -> None:
    """`make run` with FLINT_DEMO=1, as a newcomer runs it: the docs' address once the API
    answers, the demo user's credentials (which sign in), nothing but JSON log lines besides,
    none above info; and Ctrl-C (SIGINT to the whole terminal group) prints no traceback and
    none of Celery's own shutdown lines."""
    with started(["run"], tmp_path, "run", FLINT_DEMO="1") as log:
        lines = lines_until(log, "  Open ", 240)
        ready = next(line for line in lines if line.startswith("Flint is ready: open "))
        docs = ready.removeprefix("Flint is ready: open ")
        base = docs.removesuffix("/docs")
        front = httpx.get(base + "/", timeout=10)
        assert front.status_code == 307
        assert front.headers["location"] == "/docs"
        email, password = next(
            line.removeprefix("Demo user ready: ").split(" / ")
            for line in lines
            if line.startswith("Demo user ready: ")
        )
        signed_in = httpx.post(
            f"{base}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10
        )
        assert signed_in.status_code == 200, signed_in.text
        assert set(signed_in.json()) >= {"token", "refreshToken", "expiresIn", "tokenType"}

        group = int(log.with_suffix(".pid").read_text())
        os.killpg(group, signal.SIGINT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and processes_in_group(group):
            time.sleep(0.25)
        everything = log.read_text(errors="replace").splitlines()

    assert not processes_in_group(group), "flint run did not stop on Ctrl-C"
    people = [line for line in everything if line.startswith(RUN_LINES + DEMO_LINES)]
    assert [line for line in people if line.startswith(RUN_LINES)] == [
        line for line in everything if line.startswith(RUN_LINES)
    ]
    logged = records([line for line in everything if line not in people])
    assert [r for r in logged if r["level"] != "info"] == []
    assert lines.index(ready) < next(i for i, line in enumerate(lines) if "Demo user" in line)
    # Nothing at start reads as a secret cut out (migration 0013's title once did).
    assert "[Filtered]" not in "\n".join(lines)
