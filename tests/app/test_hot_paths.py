"""The hot paths' causes, each fixed where it was found (see `bench/http_hotpaths.py`):
routing tries only the routes a path can reach, a GET reads in a read-only transaction that on
SQLite neither takes nor waits for the write lock and runs in the event loop's thread, and on
PostgreSQL a write slipped into a GET fails instead of committing."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
import time
from typing import Any

import httpx
import pytest
from celery.signals import worker_init
from fastapi import FastAPI
from fastapi.routing import (
    APIRoute,
    _endpoint_context_cache,
    _IncludedRouter,
    iter_route_contexts,
)
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from starlette.routing import compile_path

from flint.app.main import create_app
from flint.app.methods import owner, templates
from flint.app.routing import (
    PathIndex,
    _PrefixedInclude,
    app_routes,
    common_prefix,
    included_routes,
    literal_segments,
)
from flint.app.worker import configure
from flint.config import Settings
from flint.db import create_engine, create_read_engine
from flint.kit.calendar import WARM_YEARS, trading_days_in_year
from flint.web import SessionDep
from tests.conftest import Account, sign_up

pytestmark = pytest.mark.waits


@pytest.fixture
def route_matches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every `APIRoute.matches` call FastAPI makes, by route path."""
    tried: list[str] = []
    original = APIRoute.matches

    def counting(self: APIRoute, scope: Any) -> Any:
        tried.append(self.path)
        return original(self, scope)

    monkeypatch.setattr(APIRoute, "matches", counting)
    return tried


async def test_a_request_tries_only_the_routes_its_path_can_reach(
    client: httpx.AsyncClient, alice: Account, route_matches: list[str]
) -> None:
    """Every feature's router is included twice (/api/v1 and /api): walking them all was
    about 150 matches per request, measured as 45 % of a route that does nothing."""
    for path in (
        f"/api/v1/watchlist/{alice.user_id}",
        "/api/trades",
        "/api/v1/notifications",
        "/healthz",
    ):
        route_matches.clear()
        answer = await client.get(path, headers=alice.headers)
        assert answer.status_code == 200, (path, answer.text)
        assert route_matches, path
        assert len(route_matches) <= 16, (path, len(route_matches), route_matches)
        feature = path.split("/")[-2] if path.count("/") > 3 else path.split("/")[-1]
        elsewhere = [
            tried
            for tried in route_matches
            if tried.startswith(("/api/v1/", "/api/")) and f"/{feature}" not in tried
        ]
        assert len(elsewhere) <= 4, (path, elsewhere)  # the top-level docs routes, no feature


async def test_the_app_asks_only_the_routers_a_path_can_reach(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI's own router asked each of the ~40 routers and routes the app includes in
    turn: a route added last (as the bench's `/bench/ok`) was found after 34 refusals."""

    async def late() -> dict[str, bool]:
        return {"ok": True}

    app.add_api_route("/late/ok", late, methods=["GET"])
    asked: list[str] = []
    original = _PrefixedInclude.matches

    def counting(self: _PrefixedInclude, scope: Any) -> Any:
        asked.append(self.literal)
        return original(self, scope)

    monkeypatch.setattr(_PrefixedInclude, "matches", counting)
    answer = await client.get("/late/ok")
    assert answer.status_code == 200
    assert answer.json() == {"ok": True}
    assert len(asked) <= 3, asked  # only routers whose routes share no literal prefix
    asked.clear()
    answer = await client.get(f"/api/v1/watchlist/{alice.user_id}", headers=alice.headers)
    assert answer.status_code == 200
    assert "/api/v1/watchlist" in asked
    assert len(asked) <= 4, asked
    assert (await client.get("/api/v1/nowhere")).status_code == 404  # FastAPI's walk answers


async def test_an_included_router_matches_a_path_once(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastAPI matched an included router's routes in `matches` and again in `handle`."""
    matched: list[str] = []
    original = _IncludedRouter._match

    def counting(self: _IncludedRouter, scope: Any) -> Any:
        matched.append(getattr(self, "literal", "?"))
        return original(self, scope)

    monkeypatch.setattr(_IncludedRouter, "_match", counting)
    answer = await client.get(f"/api/v1/watchlist/{alice.user_id}", headers=alice.headers)
    assert answer.status_code == 200
    assert matched.count("/api/v1/watchlist") == 1, matched


def test_the_path_index_finds_the_owner_the_full_walk_finds(app: FastAPI) -> None:
    """For a path made from every template of the app (literal, parameter, the /api twin)
    the index gives the same owning template as trying all of them."""
    table = templates(app.routes)
    index = PathIndex(table, lambda template: template.path)
    samples = [template.path.replace("{", "x").replace("}", "") for template in table]
    samples += [template.path + "/extra" for template in table] + ["/", "/nowhere", "/api"]
    for path in samples:
        assert owner(index, path) == owner(table, path), path


def test_the_routing_tables_read_the_paths_fastapi_serves_without_building_its_routes(
    app: FastAPI,
) -> None:
    """`guard_includes` and `templates` read an included router's paths from its routes as
    declared: creating the app builds none of FastAPI's route contexts (0.5 s of CPU an app),
    and what they read is what those contexts give once built."""
    includes = [route for route in app.routes if isinstance(route, _IncludedRouter)]
    assert len(includes) > 10
    assert all(include._effective_candidates_version is None for include in includes)
    mine = templates(app.routes)
    assert all(include._effective_candidates_version is None for include in includes)

    built: dict[str, tuple[str, set[str]]] = {}  # as FastAPI's own contexts give them
    for context in iter_route_contexts(app.routes):
        pattern = getattr(context, "path_regex", None)
        if context.methods and context.path_format and pattern is not None:
            entry = built.setdefault(context.path_format, (pattern.pattern, set()))
            entry[1].update(context.methods)
    assert {t.path: (t.pattern.pattern, set(t.methods)) for t in mine} == built
    for include in includes:
        formats = [compile_path(path)[1] for path, _ in included_routes(include)]
        assert formats == [
            getattr(context.starlette_route, "path_format", None) or context.path_format
            for context in include.effective_route_contexts()
        ]
        assert isinstance(include, _PrefixedInclude)
        assert include.literal == common_prefix(formats)


def test_literal_prefixes() -> None:
    assert literal_segments("/api/v1/trades/{tradeId}/events") == ["api", "v1", "trades"]
    assert literal_segments("/api/v1/x{id}/y") == ["api", "v1"]
    assert literal_segments("/") == [""]
    assert common_prefix(["/api/v1/trades", "/api/v1/trades/{tradeId}"]) == "/api/v1/trades"
    assert common_prefix(["/api/v1/trades", "/api/v1/tradesmen"]) == "/api/v1"
    assert common_prefix(["/{any}", "/api"]) == ""
    index = PathIndex(["/a/b/c", "/{x}", "/a/{y}", "/a/b/c/d", "/z"], lambda path: path)
    assert index.candidates("/a/b/c/d") == ["/a/b/c", "/{x}", "/a/{y}", "/a/b/c/d"]
    assert index.candidates("/z") == ["/{x}", "/z"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_get_reads_while_another_connection_holds_the_write_lock(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    """Before, every request began `BEGIN IMMEDIATE`: a GET queued behind any writer (and
    behind every other GET) for up to the 30 s busy timeout."""
    added = await client.post(
        "/api/v1/watchlist/add",
        json={"userId": alice.user_id, "asset": "AAPL"},
        headers=alice.headers,
    )
    assert added.status_code == 201, added.text
    database = make_url(database_url).database
    assert database
    writer = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE users SET full_name = 'Held' WHERE id IS NULL")
        started = time.monotonic()
        read = await asyncio.wait_for(
            client.get(f"/api/v1/watchlist/{alice.user_id}", headers=alice.headers), 10
        )
        assert read.status_code == 200, read.text
        assert [item["asset"] for item in read.json()["watchlist"]] == ["AAPL"]
        assert time.monotonic() - started < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()


async def test_sqlite_reads_run_in_the_calling_thread(tmp_path: Any) -> None:
    """Each aiosqlite call was a hand-off to a worker thread and back (13 for a two-query
    read); the read engine's calls run in the caller's thread."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'flint.db'}")
    reader = create_read_engine(engine)

    @event.listens_for(reader.sync_engine, "connect")
    def _thread_function(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection._connection._conn.create_function("tid", 0, threading.get_ident)

    try:
        async with reader.connect() as connection:
            ran_in = (await connection.execute(text("SELECT tid()"))).scalar_one()
        assert ran_in == threading.get_ident()
        async with engine.connect() as connection:  # the writers keep aiosqlite's thread
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
            await connection.commit()
    finally:
        await reader.dispose()
        await engine.dispose()


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_write_in_a_get_fails_on_postgresql(app: FastAPI, alice: Account) -> None:
    """A GET's transaction is READ ONLY: a write that slips into a GET is an error, never a
    silent commit (SQLite's deferred transaction would allow it, so this is the net)."""

    async def sneaky(session: SessionDep) -> dict[str, bool]:
        await session.execute(text("UPDATE users SET full_name = 'changed'"))
        return {"wrote": True}

    app.add_api_route("/_test/sneaky-write", sneaky, methods=["GET"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        answer = await http.get("/_test/sneaky-write")
        assert answer.status_code == 500
        other = await sign_up(http)
        me = await http.get("/api/v1/users/me", headers=other.headers)
        assert me.json().get("fullName") != "changed"
    reader = create_read_engine(app.state.runtime.engine)
    async with reader.connect() as connection:
        with pytest.raises(DBAPIError):
            await connection.execute(text("UPDATE users SET full_name = 'changed'"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_concurrent_reads_reuse_the_readers_they_opened(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    """With SQLAlchemy's default pool (5 kept) the in-thread SQLite readers were opened and
    closed, each with a thread of its own, on most requests once 32 were in flight: 71 reads/s
    with p99 1.5 s under wrk. Rounds of 32 concurrent reads open at most 32 readers in all."""
    reader = app.state.runtime.request_readers.kw["bind"].sync_engine
    opened: list[int] = []

    def count(*_: Any) -> None:
        opened.append(1)

    event.listen(reader, "connect", count)
    try:
        path = f"/api/v1/watchlist/{alice.user_id}"
        for _ in range(5):
            answers = await asyncio.gather(
                *(client.get(path, headers=alice.headers) for _ in range(32))
            )
            assert {answer.status_code for answer in answers} == {200}
    finally:
        event.remove(reader, "connect", count)
    assert len(opened) <= 32, len(opened)


FROZEN = """
import asyncio, gc, sys
import httpx
from flint.app.main import create_app
from flint.config import Settings
from flint.kit.calendar import trading_days_in_year

async def main() -> None:
    settings = Settings(
        _env_file=None, data_dir=sys.argv[1], log_level="WARNING", freeze_heap=sys.argv[2] == "on"
    )
    app = create_app(settings)
    before = gc.get_freeze_count()
    cold = trading_days_in_year.cache_info().currsize
    collections = []
    def seen(phase, info):
        if phase == "start":
            collections.append(info["generation"])
    # The count towards the next collection starts at 0 (not where making the app left it: a
    # few allocations of FastAPI's, before the lifespan's own code, collected when it was near).
    gc.collect(0)
    gc.callbacks.append(seen)
    async with app.router.lifespan_context(app):
        gc.callbacks.remove(seen)
        after = gc.get_freeze_count()
        warm = trading_days_in_year.cache_info().currsize
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            answer = await client.get("/healthz")
    print("frozen", before, after, answer.status_code)
    print("calendar", cold, warm)
    print("collections", *collections)
    print("ofxtools", int("ofxtools" in sys.modules))
    print("sentry_sdk", int("sentry_sdk" in sys.modules))

asyncio.run(main())
"""


@pytest.mark.parametrize("setting", ["on", "off"])
def test_a_started_api_takes_its_start_up_heap_out_of_the_collectors_full_walks(
    tmp_path: Any, setting: str
) -> None:
    """Full collections walked the whole start-up heap (120-140 ms each, every request held
    up): `settle_heap` freezes it once the app has started, unless `freeze_heap` is off. What
    the first requests would work out is worked out before (`warm_process`), either way, with
    the collector paused (it walked the growing heap again and again, for nothing): the only
    collection of the start-up is `settle_heap`'s own."""
    import subprocess
    import sys

    (tmp_path / "data").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", FROZEN, str(tmp_path / "data"), setting],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("frozen "))
    before, after, status = map(int, line.split()[1:])
    assert (before, status) == (0, 200)
    if setting == "on":
        assert after > 100_000, "the start-up heap was not frozen"
    else:
        assert after == 0
    line = next(line for line in done.stdout.splitlines() if line.startswith("calendar "))
    cold, warm = map(int, line.split()[1:])
    assert (cold, warm) == (0, WARM_YEARS + 2)
    line = next(line for line in done.stdout.splitlines() if line.startswith("collections "))
    collections = line.split()[1:]
    if setting == "on":
        assert collections == ["2"], "only settle_heap's full collection"
    else:  # at most one of the young generations', as the collector comes back on (which
        # of the two depends on how many objects the imports made: neither walks the start-up
        # heap, which is in the oldest generation by then)
        assert collections in ([], ["0"], ["1"])
    # Importing ofxtools took an eighth of a process's start-up: the first OFX file read does.
    assert "ofxtools 0" in done.stdout.splitlines()
    # Sentry's SDK (and urllib3, which it brings) without a DSN: 0.15-0.2 s of every start.
    assert "sentry_sdk 0" in done.stdout.splitlines()


def test_a_worker_settles_its_start_up_heap_before_its_pool_starts(settings: Settings) -> None:
    """With `freeze_heap` (a deployment's default), ``worker_init`` moves the start-up heap out
    of the collector's reach before the pool's processes are forked from it; off (the tests'
    own setting, their worker being a thread of the test process), it leaves the heap alone.
    (The test process froze its own start-up heap once it had collected the tests.)"""
    gc.collect()
    before = gc.get_freeze_count()
    configure(settings)
    try:
        worker_init.send(sender=None)
        assert gc.get_freeze_count() <= before  # frozen objects may be freed meanwhile
        configure(settings.model_copy(update={"freeze_heap": True}))
        worker_init.send(sender=None)
        assert gc.get_freeze_count() > before
    finally:
        configure(None)


def test_a_worker_works_out_the_calendar_before_its_pool_starts(settings: Settings) -> None:
    """Celery's ``worker_init`` (the worker's main process, before its pool's processes are
    forked from it) runs `warm_process`, so no task of a fresh pool process works it out."""
    configure(settings)
    try:
        trading_days_in_year.cache_clear()
        worker_init.send(sender=None)
        assert trading_days_in_year.cache_info().currsize == WARM_YEARS + 2
    finally:
        configure(None)


def _unbuilt(routes: list[Any]) -> list[str]:
    """The included routers whose routes FastAPI has not built yet (asking would build them)."""
    missing: list[str] = []
    for route in routes:
        if not isinstance(route, _IncludedRouter):
            continue
        built = route.__dict__.get("_effective_candidates")
        if route.__dict__.get("_effective_candidates_version") is None or built is None:
            missing.append(route.include_context.prefix or "/")
        else:
            missing += _unbuilt(built)
    return missing


@pytest.mark.parametrize("prepare", [True, False])
async def test_a_started_api_has_built_every_routes_handling(
    settings: Settings, prepare: bool
) -> None:
    """FastAPI builds an included router's routes when the first request reaches it: 10-30 ms of
    the event loop, once per router and process, while that process answered others (30 ms in
    the first file import after a start), and reads each handler's source lines on its first
    request (3 ms for the file import's). A deployment's API does both for every route as it
    starts (`prepare_routes`); the tests' apps (off) leave them to their first request."""
    app = create_app(settings.model_copy(update={"prepare_routes": prepare}))
    assert len(_unbuilt(app.router.routes)) > 10
    handlers = {id(r.endpoint) for _, r in app_routes(app) if isinstance(r, APIRoute)}
    assert len(handlers) > 100
    _endpoint_context_cache.clear()  # FastAPI's, per process: other tests' requests filled it
    async with app.router.lifespan_context(app):
        left = _unbuilt(app.router.routes)
        if prepare:
            assert left == []
            assert handlers <= _endpoint_context_cache.keys()
        else:
            assert len(left) > 10
            assert not handlers & _endpoint_context_cache.keys()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                assert (await c.get("/api/v1/auth/me")).status_code == 401
            assert 0 < len(left) - len(_unbuilt(app.router.routes)) < len(left)
