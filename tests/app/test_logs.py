"""One log format: the API and the worker, started as a user starts them, print only JSON
lines, with no warning a user would have to learn to ignore (Celery's banner and root warning,
SQLAlchemy's reflection warning during migrations)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.app.test_cli import FLINT, clean_env
from tests.notifications.test_outbox import free_port

pytestmark = pytest.mark.timeout(150)


@contextmanager
def started(args: list[str], tmp_path: Path, name: str) -> Iterator[Path]:
    """``flint *args`` on a fresh data dir with the embedded defaults; yields its output file
    (stdout and stderr together) and stops it at the end of the block."""
    log = tmp_path / f"{name}.log"
    env = clean_env(
        FLINT_DATA_DIR=str(tmp_path / f"data-{name}"),
        FLINT_PORT=str(free_port()),
        FLINT_LOG_LEVEL="INFO",
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
    try:
        yield log
    finally:
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
