"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when configured),
the app built on it, and an HTTP client that speaks to it in-process.

Server-backed tests read FLINT_TEST_POSTGRES_URL, FLINT_TEST_REDIS_URL and FLINT_TEST_AMQP_URL.
Without them those tests are skipped with the reason; with CI=true a missing one fails the run.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import gc
import hashlib
import json
import os
import tempfile
from pathlib import Path

# Before anything imports flint: the module-level Celery app reads these once.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="flint-tests-"))
os.environ["FLINT_DATA_DIR"] = str(_SESSION_DIR / "default")
os.environ["FLINT_BROKER_URL"] = "flint-test-memory://"  # tests/memory_broker.py
os.environ["FLINT_ENV"] = "test"
for _name in ("FLINT_DATABASE_URL", "FLINT_REDIS_URL", "FLINT_SMTP_HOST", "FLINT_JWT_SECRET"):
    os.environ.pop(_name, None)

import shutil  # noqa: E402
import threading  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator, Callable, Iterator  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import pytest  # noqa: E402
from argon2 import PasswordHasher, Type  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.dependencies import models as fastapi_dependencies  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from sqlalchemy import delete, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from flint.app.main import create_app  # noqa: E402
from flint.app.models import Base  # noqa: E402
from flint.auth import passwords  # noqa: E402
from flint.config import Settings  # noqa: E402
from flint.db import create_engine  # noqa: E402
from flint.handoffs import JobHandoff  # noqa: E402
from tests import memory_broker  # noqa: E402
from tests.scheduling import pytest_collection_modifyitems  # noqa: E402
from tests.shared_fields import share_route_state  # noqa: E402
from tests.shared_openapi import share_openapi_schemas  # noqa: E402
from tests.shared_queues import task_queue  # noqa: E402, F401  (a fixture)
from tests.shared_sql import share_compiled_sql  # noqa: E402
from tests.shared_tls import share_tls_context  # noqa: E402
from tests.skip_summary import pytest_terminal_summary  # noqa: E402

__all__ = ["pytest_collection_modifyitems", "pytest_terminal_summary"]  # hooks kept elsewhere

# CI explores the same examples on every run (a red main must mean a regression); elsewhere
# property tests draw new examples each run and keep the failures they find in .hypothesis/.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")

share_route_state()  # FastAPI's per-app route state built once per test process
share_tls_context()  # the tests' HTTP clients share one, as Flint's own do
share_compiled_sql()  # every test's engines compile a statement once, as one server's do
share_openapi_schemas()  # the documents' model schemas made once for the same fields

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def service_url(variable: str, what: str) -> str:
    """The URL of a test service, or skip (fail in CI) when it is not configured."""
    url = os.environ.get(variable)
    if url:
        return url
    message = f"{what} tests need {variable} (e.g. see .ci/run)"
    if IN_CI:
        pytest.fail(f"CI=true but {variable} is not set: {message}", pytrace=False)
    pytest.skip(message)


def in_thread(fn: Callable[..., object], *args: object) -> None:
    """Run ``fn`` on a fresh thread and wait: code that starts its own event loop (Alembic's
    env, ``asyncio.run``) cannot run on the thread whose loop pytest-asyncio keeps."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(fn, *args).result()


def migrate(url: str) -> None:
    """Apply the Alembic history to `url` (in a thread: Alembic's env runs its own event loop)."""
    from alembic import command

    from flint.app.cli import _alembic_config

    def upgrade() -> None:
        config: Any = _alembic_config()
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        command.upgrade(config, "head")

    in_thread(upgrade)


TEMPLATES = Path(tempfile.gettempdir()) / "flint-test-templates"
"""Migrated SQLite templates, one per state of the migrations, shared by workers and runs."""
TEMPLATE_LOCK = 0x666C696E74  # PostgreSQL advisory lock: one builder of a template at a time


def migrations_digest() -> str:
    """Names the schema the migrations make: their files, and the Alembic and SQLAlchemy that
    run them (the migrations import nothing else of Flint's)."""
    import alembic
    import sqlalchemy

    from flint.app.cli import MIGRATIONS

    digest = hashlib.sha256(f"{alembic.__version__} {sqlalchemy.__version__}".encode())
    for path in sorted(MIGRATIONS.rglob("*.py")):
        digest.update(path.relative_to(MIGRATIONS).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


QUICK_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
"""argon2id at 1 MiB and one pass: about 1 ms a hash or check, where OWASP's parameters cost
about 17 ms of CPU each, by design (a sign-up hashes, a sign-in checks: 5 % of the suite's CPU
went to them). Only the cost differs, so what a test of signing in proves holds with either."""


@pytest.fixture(autouse=True)
def password_hashing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The in-process tests hash passwords with `QUICK_HASHER`, except those marked
    ``owasp_hashing`` (the parameters themselves, and upgrading a weaker hash to them); an API
    or worker a test starts as a process of its own hashes as production does."""
    if request.node.get_closest_marker("owasp_hashing") is None:
        monkeypatch.setattr(passwords, "_hasher", QUICK_HASHER)
    passwords._dummy_hash.cache_clear()  # made again by the hasher in force
    yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture(autouse=True)
def empty_broker() -> None:
    """Each test starts with the in-process broker's queues empty: a job an earlier test sent
    and never ran (a worker it did not start) is not run by this test's worker."""
    memory_broker.forget_messages()


@pytest.fixture(autouse=True)
def forget_apps() -> Iterator[None]:
    """After each test, empty FastAPI's caches of the dependencies and endpoints it has seen
    (`fastapi.dependencies.models`, up to 4,096 callables each): they hold them strongly, and
    an app's own endpoints hold the app, so each test's app stayed alive until pushed out,
    hundreds at once. The heap a garbage collection walks stayed at millions of objects,
    2-3 s a full collection. One process serves one app, so only tests meet this."""
    yield
    forget_fastapi_callables()


def forget_fastapi_callables() -> None:
    """Empty every cache of `fastapi.dependencies.models` (`forget_apps`; that this lets a
    closed app go is checked by tests/test_suite_heap.py, so a FastAPI that keeps them
    elsewhere is noticed)."""
    for cached in vars(fastapi_dependencies).values():
        if isinstance(cached, functools._lru_cache_wrapper):
            cached.cache_clear()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once the tests are collected, the test process's start-up heap (Flint's modules and the
    tests', their routers and schemas: 270,000 objects) is taken out of the garbage collector's
    walks, as a Flint process does with its own once started (`flint.app.runtime.settle_heap`):
    every full collection walked it again (tests/watchlist, alerts and notifications spent 4.6 s
    in the collector, 3.1 s with it frozen). A test makes an app and its requests, hundreds of
    thousands of short-lived objects, and the collector looked at the youngest after every 700
    allocations: it waits for 10,000 (3.1 s -> 1.7 s, in 140 collections instead of 2,500)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    """A migrated SQLite file that tests copy: made once for the migrations as they are (the
    first xdist worker to need it makes it; the others, and later runs, reuse it)."""
    TEMPLATES.mkdir(exist_ok=True)
    path = TEMPLATES / f"flint-{migrations_digest()}.db"
    with (TEMPLATES / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            building = path.with_name(f"{path.name}.{os.getpid()}.building")
            building.unlink(missing_ok=True)
            migrate(f"sqlite+aiosqlite:///{building}")
            building.replace(path)
    return path


def migrated_data_dir(data: Path, template: Path) -> Path:
    """``data`` made as Flint makes a data dir (owner-only), holding a migrated SQLite database:
    a copy of ``template`` (`sqlite_template`), for tests of processes that need one but are
    not about migrating (a ``flint migrate`` process is 2-3 s of CPU)."""
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(template, data / "flint.db")
    (data / "flint.db").chmod(0o600)
    return data


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One database per xdist worker, dropped at the end: a copy (CREATE DATABASE ... TEMPLATE)
    of a database migrated once for the migrations as they are, kept on the server for the
    workers and runs after (each state of the migrations has its own)."""
    import asyncio

    base = make_url(service_url("FLINT_TEST_POSTGRES_URL", "PostgreSQL"))
    name = f"flint_test_{WORKER}_{uuid.uuid4().hex[:6]}"
    template = f"flint_template_{migrations_digest()}"

    async def admin(*statements: str) -> None:
        engine = create_engine(base.render_as_string(hide_password=False))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for sql in statements:
                await conn.execute(text(sql))
        await engine.dispose()

    async def clone() -> None:
        engine = create_engine(base.render_as_string(hide_password=False))
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f"SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
            try:
                exists = text("SELECT 1 FROM pg_database WHERE datname = :name")
                if (await conn.execute(exists, {"name": template})).first() is None:
                    building = f"{template}_building"
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)'))
                    await conn.execute(text(f'CREATE DATABASE "{building}"'))
                    migrate(base.set(database=building).render_as_string(hide_password=False))
                    await conn.execute(text(f'ALTER DATABASE "{building}" RENAME TO "{template}"'))
                await conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            finally:
                await conn.execute(text(f"SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
        await engine.dispose()

    in_thread(asyncio.run, clone())
    # A test database outlives no crash: commits need not wait for the WAL to reach the disk
    # (every session of this database, the apps' included; fsync stays as the server has it).
    in_thread(asyncio.run, admin(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = base.set(database=name).render_as_string(hide_password=False)
    yield url
    emptier = _EMPTIERS.pop(url, None)
    if emptier is not None:
        emptier.close()
    in_thread(asyncio.run, admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


TABLES = [f'"{table.name}"' for table in reversed(Base.metadata.sorted_tables)]
"""Every table of the app's models, those that reference others first."""
_EMPTY_TABLES = "".join(f"DELETE FROM {table};" for table in TABLES)  # noqa: S608 (our names)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database for this test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "flint.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_database")
    yield url
    empty_database(url)


def empty_database(url: str) -> None:
    """Delete every row of the PostgreSQL database at `url`, as after each test using it."""
    emptier = _EMPTIERS.get(url)
    if emptier is None:
        emptier = _EMPTIERS[url] = Emptier(url)
    emptier.empty()


class Emptier:
    """Empties one PostgreSQL database after each test over a connection kept for the test
    process (on a thread of its own with its own event loop: the tests' loops come and go).
    A connection per test cost 15-20 ms (PostgreSQL starts a server process for each), a
    connection per PostgreSQL test. DELETE, not TRUNCATE: a test leaves a few rows, and
    TRUNCATE gives each of the tables new files (0.1 s idle, 0.4-0.7 s on a busy machine;
    DELETE: 25 ms). One round trip."""

    def __init__(self, url: str) -> None:
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._connection: asyncpg.Connection | None = None

    def empty(self) -> None:
        asyncio.run_coroutine_threadsafe(self._empty(), self._loop).result(120)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    async def _empty(self) -> None:
        for attempt in (1, 2):  # a test may have restarted the server since the last one
            try:
                if self._connection is None or self._connection.is_closed():
                    self._connection = await asyncpg.connect(self._dsn, timeout=30)
                await self._connection.execute(f"BEGIN;{_EMPTY_TABLES}COMMIT;")
                return
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                await self._close()
                if attempt == 2:
                    raise
            except BaseException:
                await self._close()  # a failed script leaves its transaction open: start afresh
                raise

    async def _close(self) -> None:
        if self._connection is not None:
            self._connection.terminate()
            self._connection = None


_EMPTIERS: dict[str, Emptier] = {}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module (or parametrize) to change settings for its app."""
    return {}


@pytest.fixture
def settings(database_url: str, tmp_path: Path, settings_overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "broker_url": memory_broker.URL,
        "redis_url": None,
        "log_format": "console",
        "log_level": "WARNING",
        "smtp_host": None,
        # Performance is computed in the test's process (a thread); the worker processes the
        # API uses by default are tested in tests/portfolio/test_performance_workers.py.
        "performance_workers": 0,
        # One process builds an app per test: freezing its heap each time would keep every
        # earlier test's objects from the collector (tested in tests/app/test_hot_paths.py).
        "freeze_heap": False,
        "prepare_routes": False,  # 0.18 s an app (tested in tests/app/test_hot_paths.py)
        # Rate-limit counts of this test's own: the shared Redis keeps other runs' counts.
        "rate_limit_namespace": f"flint-test-{uuid.uuid4().hex}",
    }
    values.update(settings_overrides)
    return explicit_settings(values)


def explicit_settings(values: dict[str, Any]) -> Settings:
    """``Settings(_env_file=None, **values)``: validated by the same schema, but without looking
    at the environment, which pydantic-settings does afresh for each of the 111 fields of every
    instance (10 ms of CPU, 1.5 % of the suite's; this: 0.05 ms). A test's settings are what it
    says and the defaults; a FLINT_ variable in the shell that runs the tests changes none."""
    made = Settings.__new__(Settings)
    BaseModel.__init__(made, **values)
    return made


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.runtime.aclose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def other_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a second API process: another app on the same settings (database, cache),
    as a second `flint serve` would be, with caches of its own in this process."""
    application = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as http:
            yield http
    finally:
        await application.state.runtime.aclose()


_DOCUMENTS: dict[str, bytes] = {}


async def served_document(client: httpx.AsyncClient, path: str = "/openapi.json") -> dict[str, Any]:
    """The OpenAPI document at ``path`` as a client fetches it, fetched once per test process
    (a fresh copy each call): every app is built from the same routers, and the settings do not
    enter its documents (tests/docs/test_openapi.py checks that), while making one takes
    0.5-1.5 s."""
    if path not in _DOCUMENTS:
        response = await client.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        _DOCUMENTS[path] = response.content
    document: dict[str, Any] = json.loads(_DOCUMENTS[path])
    return document


@dataclass
class Account:
    """A registered, signed-in user as a test sees it."""

    user_id: str
    email: str
    password: str
    token: str
    refresh_token: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


DEFAULT_PASSWORD = "Tr0ub4dor&3-horse-staple"


async def sign_up(
    client: httpx.AsyncClient, email: str | None = None, password: str = DEFAULT_PASSWORD
) -> Account:
    email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password}
    )
    assert registered.status_code == 201, registered.text
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    pair = login.json()
    return Account(
        user_id=registered.json()["userId"],
        email=registered.json()["email"],
        password=password,
        token=pair["token"],
        refresh_token=pair["refreshToken"],
    )


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> Account:
    return await sign_up(client, "alice@example.com")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> Account:
    return await sign_up(client, "bob@example.com")


async def until_final(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    final: tuple[str, ...],
    seconds: float = 60,
    every: float = 0.05,
) -> dict[str, Any]:
    """GET ``url`` every ``every`` s until its ``status`` is one of ``final``; the body then."""
    body: dict[str, Any] = {}
    for _ in range(int(seconds / every)):
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in final:
            return body
        await asyncio.sleep(every)
    raise AssertionError(f"{url} is still {body.get('status')} after {seconds} s")


async def lose_handoffs(session: AsyncSession) -> None:
    """Forget every task owed to the broker, as when the broker took a message (so its
    hand-off was deleted) and then lost it: only the sweeps can find that work again."""
    await session.flush()  # a bulk DELETE does not flush the rows added before it
    await session.execute(delete(JobHandoff))


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for key in ("type", "title", "detail"):
        assert isinstance(body[key], str), key
        assert body[key], key
    return body


def error_fields(body: dict[str, Any]) -> set[str]:
    """The field names a validation problem's `errors` list points at."""
    return {str(error["field"]) for error in body.get("errors", [])}
