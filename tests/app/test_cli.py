"""The `flint` command: its commands, the OpenAPI export, migrations, and `flint run` end to end.

Subprocesses get an environment of their own (no FLINT_* from the test session), so their
settings are read fresh, as a user's shell would give them.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from stat import S_IMODE

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from flint.app.cli import app
from tests.conftest import DEFAULT_PASSWORD, migrated_data_dir
from tests.notifications.test_outbox import free_port

pytestmark = pytest.mark.waits
FLINT = str(Path(sys.executable).with_name("flint"))
TABLES = {
    "users",
    "refresh_tokens",
    "password_reset_tokens",
    "watchlist_items",
    "notification_outbox",
    "alembic_version",
}


def clean_env(**variables: str) -> dict[str, str]:
    """This process's environment without any FLINT_* variable, plus `variables`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLINT_")}
    env.update({"FLINT_ENV": "test", "FLINT_LOG_LEVEL": "WARNING"} | variables)
    return env


def flint(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLINT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    for command in ("serve", "migrate", "openapi", "worker", "beat", "run", "backfill", "demo"):
        assert command in result.output


def test_openapi_prints_the_document_as_json() -> None:
    result = CliRunner().invoke(app, ["openapi"])
    assert result.exit_code == 0, result.output
    spec = json.loads(result.stdout)
    assert spec["info"]["title"] == "Flint API"
    assert "/api/v1/auth/login" in spec["paths"]


def test_openapi_writes_the_document_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    result = CliRunner().invoke(app, ["openapi", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    spec = json.loads(target.read_text())
    assert "/api/v1/watchlist/add" in spec["paths"]
    assert spec == json.loads(CliRunner().invoke(app, ["openapi"]).stdout)


def test_openapi_from_a_shell_prints_only_json_and_leaves_no_data_dir(tmp_path: Path) -> None:
    result = flint("openapi", cwd=tmp_path, env=clean_env(FLINT_LOG_LEVEL="INFO"))
    assert result.returncode == 0, result.stderr
    assert "/api/v1/auth/login" in json.loads(result.stdout)["paths"]
    assert list(tmp_path.iterdir()) == []


def query(database: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(database)) as db, db:
        return db.execute(sql).fetchall()


def sqlite_tables(database: Path) -> set[str]:
    rows = query(database, "SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(name) for (name,) in rows}


def test_migrate_creates_the_database_in_an_empty_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = flint("migrate", cwd=tmp_path, env=clean_env(FLINT_DATA_DIR=str(data)))
    assert result.returncode == 0, result.stderr
    assert "Database at head" in result.stdout
    assert sqlite_tables(data / "flint.db") >= TABLES


def test_migrate_twice_is_harmless(tmp_path: Path) -> None:
    env = clean_env(FLINT_DATA_DIR=str(tmp_path / "data"))
    assert flint("migrate", cwd=tmp_path, env=env).returncode == 0
    database = tmp_path / "data" / "flint.db"
    version = query(database, "SELECT version_num FROM alembic_version")
    query(database, "CREATE TABLE kept AS SELECT 'still here' AS note")

    again = flint("migrate", cwd=tmp_path, env=env)

    assert again.returncode == 0, again.stderr
    assert "Database at head" in again.stdout
    assert query(database, "SELECT version_num FROM alembic_version") == version
    assert query(database, "SELECT note FROM kept") == [("still here",)]
    assert sqlite_tables(database) >= TABLES


# --- flint run ------------------------------------------------------------------------------


def processes_in_group(pgid: int) -> list[int]:
    """The live (non-zombie) processes of process group `pgid`."""
    if not Path("/proc/self/stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        if int(group) == pgid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def wait_until(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} within {timeout:.0f} s; flint run said:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.25)


@pytest.fixture
def flint_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path, Path]]:
    """`flint run` on a fresh data dir and free port, with the embedded broker (no server)."""
    data, log = tmp_path / "data", tmp_path / "flint-run.log"
    port = free_port()
    env = clean_env(FLINT_DATA_DIR=str(data), FLINT_PORT=str(port))
    with log.open("wb") as output:
        process = subprocess.Popen(
            [FLINT, "run"],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we can find every child
        )
    try:
        yield process, f"http://127.0.0.1:{port}", data, log
    finally:
        if processes_in_group(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def scrape(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``GET /metrics`` as {(sample name, labels): value}."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.timeout(180)
def test_run_serves_the_api_delivers_email_through_the_worker_and_stops_on_sigterm(
    flint_run: tuple[subprocess.Popen[bytes], str, Path, Path],
) -> None:
    process, base, data, log = flint_run

    def healthy() -> bool:
        assert process.poll() is None, f"flint run exited early:\n{log.read_text()[-3000:]}"
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(healthy, 60, "/healthz did not answer 200", log)
    assert len(processes_in_group(process.pid)) >= 3, "expected flint run, the API, a worker"

    email = f"run-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base, timeout=10) as http:
        registered = http.post(
            "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        assert "server" not in registered.headers  # no banner naming the server software
        reset = http.post("/api/auth/reset-password", json={"email": email})
        assert reset.status_code == 202, reset.text

    def email_written() -> bool:
        return any(email in eml.read_text() for eml in (data / "outbox").glob("*.eml"))

    wait_until(email_written, 30, f"no .eml for {email} in the outbox", log)
    # One scrape of the API sums what every process counted: the worker's task, the API's
    # requests (the directory was emptied at start, so these are this run's counts alone).
    scraped = scrape(base)
    sent = {"task": "flint.auth.send_password_reset", "state": "SUCCESS"}
    assert scraped.get(("flint_tasks_total", frozenset(sent.items())), 0) >= 1, scraped
    register = {"route": "/api/v1/auth/register", "method": "POST", "status": "201"}
    assert scraped[("flint_http_requests_total", frozenset(register.items()))] == 1
    # What the API and the worker processes wrote is for Flint's user alone.
    private = ["flint.db", "broker.db", "jwt.key", "credentials.key"]
    private += [str(eml.relative_to(data)) for eml in (data / "outbox").glob("*.eml")]
    modes = {name: S_IMODE((data / name).stat().st_mode) for name in [".", "outbox"]}
    modes |= {name: S_IMODE((data / name).stat().st_mode) for name in private}
    assert modes == {".": 0o700, "outbox": 0o700} | dict.fromkeys(private, 0o600)

    process.send_signal(signal.SIGTERM)
    wait_until(
        lambda: not processes_in_group(process.pid), 20, "flint run and its children not gone", log
    )
    assert process.wait(timeout=1) == 0, log.read_text()[-3000:]


def simulated_on_migrated(tmp_path: Path, template: Path) -> dict[str, str]:
    """The environment of a ``flint`` command on a migrated data dir (`migrated_data_dir`:
    ``flint migrate`` has tests of its own) with the simulated market."""
    data = migrated_data_dir(tmp_path / "data", template)
    return clean_env(FLINT_DATA_DIR=str(data), FLINT_MARKET_PROVIDERS="simulated")


def test_backfill_stores_the_missing_daily_history_once(
    tmp_path: Path, sqlite_template: Path
) -> None:
    env = simulated_on_migrated(tmp_path, sqlite_template)
    args = ("backfill", "aapl", "BTC-USD", "--start", "2024-01-01", "--end", "2024-03-31")

    first = flint(*args, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    # Q1 2024: 61 NYSE sessions (MLK day, Presidents' Day and Good Friday closed); 91 days.
    assert first.stdout.splitlines() == ["AAPL\t61 bars stored", "BTC-USD\t91 bars stored"]
    rows = query(
        tmp_path / "data" / "flint.db",
        "SELECT symbol, count(*) FROM market_data GROUP BY symbol ORDER BY symbol",
    )
    assert rows == [("AAPL", 61), ("BTC-USD", 91)]

    again = flint(*args, cwd=tmp_path, env=env)
    assert again.stdout.splitlines() == ["AAPL\t0 bars stored", "BTC-USD\t0 bars stored"]


def test_backfill_refuses_unknown_symbols_and_bad_dates_and_stores_nothing(
    tmp_path: Path, sqlite_template: Path
) -> None:
    env = simulated_on_migrated(tmp_path, sqlite_template)
    unknown = flint("backfill", "AAPL", "NOSUCHCO", cwd=tmp_path, env=env)
    assert unknown.returncode == 1
    assert "Unknown symbols: NOSUCHCO." in unknown.stderr
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    bad_date = flint("backfill", "AAPL", "--start", "2024-13-01", cwd=tmp_path, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert bad_date.returncode == 2
    assert "month must be in 1..12" in bad_date.stderr
    # Refused before the application is imported: 1.6-2 s of CPU to import it, 0.3 s without.
    assert after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime < 0.9
    reversed_range = flint(
        "backfill", "AAPL", "--start", "2024-03-01", "--end", "2024-01-01", cwd=tmp_path, env=env
    )
    assert reversed_range.returncode == 1
    assert query(tmp_path / "data" / "flint.db", "SELECT count(*) FROM market_data") == [(0,)]
