"""Flint's production processes on loopback, as a deployment runs them: each `flint` command a
process of its own (its own session, so a signal reaches it and its children), its output in a
log file of its own, printed when a test fails; and fresh PostgreSQL databases for them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from flint.db import create_engine
from tests.conftest import in_thread, service_url
from tests.notifications.test_outbox import free_port


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.popen.poll() is None

    def send(self, sig: int) -> None:
        """Signal the whole process group (uvicorn's or Celery's children too)."""
        if self.alive():
            os.killpg(self.popen.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, within: float = 20) -> int:
        self.send(sig)
        try:
            return self.popen.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            return self.popen.wait(timeout=10)

    def output(self, tail: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (exit {self.popen.poll()}) ---\n{text[-tail:]}"


@dataclass
class Processes:
    """Every process a test started; all are killed at the end, whatever happened."""

    directory: Path
    env: dict[str, str]
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, *args: str, api: bool = False, **variables: str) -> Process:
        port = free_port() if api else None
        env = {**self.env, **variables}
        if port is not None:
            env["FLINT_PORT"] = str(port)
        log = self.directory / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [sys.executable, "-m", "flint.app.cli", *args],
                cwd=self.directory,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log, port)
        self.started.append(process)
        return process

    def run(self, name: str, *args: str, within: float = 120) -> None:
        """Run a command to its end (a migration), failing with its output if it fails."""
        process = self.start(name, *args)
        try:
            code = process.popen.wait(timeout=within)
        except subprocess.TimeoutExpired:
            process.stop(signal.SIGKILL)
            pytest.fail(f"{name} did not finish within {within:g} s\n{process.output()}")
        assert code == 0, process.output()

    def wait_ready(self, *apis: Process, within: float = 90) -> None:
        for api in apis:
            self.wait_for(f"{api.name} to answer /readyz", lambda a=api: _ready(a), within)

    def wait_for(self, what: str, check: Callable[[], object], within: float = 60) -> None:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {within:g} s waiting for {what}\n{self.outputs()}")
            time.sleep(0.2)

    def outputs(self) -> str:
        return "\n".join(process.output() for process in self.started)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if process.alive():
                process.stop(signal.SIGTERM, within=15)


def _ready(api: Process) -> bool:
    if not api.alive():
        pytest.fail(f"{api.name} exited while starting\n{api.output()}")
    try:
        return httpx.get(f"{api.base}/readyz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def running(directory: Path, env: dict[str, str]) -> Iterator[Processes]:
    """The processes a test starts; their logs are printed (shown by pytest on failure) and
    every one is stopped, then killed, at the end."""
    processes = Processes(directory, env)
    try:
        yield processes
    finally:
        processes.stop_all()
        print(processes.outputs())


def flint_env(**variables: str) -> dict[str, str]:
    """This process's environment without any FLINT_* variable (the test session's), plus
    ``variables``: each process reads its settings fresh, as from a deployment's env file."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLINT_")}
    env.update({"FLINT_LOG_FORMAT": "console", "FLINT_LOG_LEVEL": "INFO"} | variables)
    return env


@contextmanager
def fresh_databases(*purposes: str) -> Iterator[list[str]]:
    """New, empty databases on the CI PostgreSQL server (one per purpose), dropped at the end."""
    base = make_url(service_url("FLINT_TEST_POSTGRES_URL", "PostgreSQL"))
    names = [f"flint_sys_{purpose}_{uuid.uuid4().hex[:8]}" for purpose in purposes]

    async def admin(statements: list[str]) -> None:
        engine = create_engine(base.render_as_string(hide_password=False))
        try:
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    in_thread(asyncio.run, admin([f'CREATE DATABASE "{name}"' for name in names]))
    try:
        yield [base.set(database=name).render_as_string(hide_password=False) for name in names]
    finally:
        drops = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names]
        in_thread(asyncio.run, admin(drops))
