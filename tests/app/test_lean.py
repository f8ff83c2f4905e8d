"""`flint.app.lean`: routes whose dependencies are plain answer without FastAPI's general
solver, exactly as FastAPI's own handler answers them.

Each case is asked twice of the same app: once as it serves (the lean handler) and once with a
dependency override set, which sends every request to FastAPI's own handler; the two answers
must be the same bytes, and FastAPI's solver must have run only the second time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import fastapi.routing
import httpx
import pytest
from fastapi import (
    APIRouter,
    BackgroundTasks,
    Depends,
    FastAPI,
    Header,
    Query,
    Request,
    Response,
)
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from flint.app.lean import LeanRoute
from tests.authz.world import build
from tests.conftest import Account
from tests.routes import PREFIXES, TABLE, nobody
from tests.trades.conftest import worker as worker  # the real Celery worker fixture

PROBLEM = "application/problem+json"


@pytest.fixture
def solves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many requests FastAPI's own solver has handled since the last reset."""
    counted = [0]
    original = fastapi.routing.solve_dependencies

    async def counting(**kwargs: Any) -> Any:
        if kwargs.get("dependency_cache") is None:  # the route's own solve, not a nested one
            counted[0] += 1
        return await original(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return counted


def _unused() -> None:
    """A dependency no route has: overriding it sends every request to FastAPI's handler."""


class FastAPIsOwn:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def __enter__(self) -> None:
        self.app.dependency_overrides[_unused] = _unused

    def __exit__(self, *_: object) -> None:
        self.app.dependency_overrides.pop(_unused, None)


def told(response: httpx.Response) -> tuple[Any, ...]:
    """Everything an answer says but its request id and date."""
    headers = sorted(
        (name, value)
        for name, value in response.headers.multi_items()
        if name not in ("x-request-id", "date") and not name.startswith("ratelimit-")
    )
    body: Any = response.content
    if response.headers.get("content-type", "").startswith(PROBLEM):
        body = {k: v for k, v in response.json().items() if k != "requestId"}
    return response.status_code, headers, body


# --- Flint's own routes -----------------------------------------------------------------------


def _get_requests(values: dict[str, str], bad: bool) -> Iterator[tuple[str, Any]]:
    for route in TABLE.values():
        if route.method != "GET" or route.path.startswith("/market/"):
            continue  # the market's answers move with its clock
        request = route.request(values)
        if bad:  # every path id malformed, every query value nonsense
            request = type(request)(
                request.method,
                "/".join("not-an-id" if _is_id(part) else part for part in request.path.split("/")),
                dict.fromkeys(request.params, "-1x"),
                request.headers,
            )
        yield route.path, request


def _is_id(part: str) -> bool:
    try:
        uuid.UUID(part)
    except ValueError:
        return False
    return True


@pytest.mark.usefixtures("worker")
async def test_every_get_route_answers_as_fastapis_own_handler(
    client: httpx.AsyncClient, app: FastAPI, solves: list[int]
) -> None:
    alice = await build(client, app, "Alice")
    stranger = {**alice.ids, **{k: v for k, v in nobody().items() if k != "listed"}}
    differ: list[str] = []
    lean_paths: set[str] = set()
    for values, bad in ((alice.ids, False), (stranger, False), (alice.ids, True)):
        for path, request in _get_requests(values, bad):
            for prefix in PREFIXES:
                solves[0] = 0
                lean = await request.send(client, prefix, alice.headers)
                if solves[0] == 0:
                    lean_paths.add(path)
                with FastAPIsOwn(app):
                    own = await request.send(client, prefix, alice.headers)
                if told(lean) != told(own):
                    differ.append(f"{prefix}{request.path}: {told(lean)} != {told(own)}")
    assert differ == []
    # Every GET route takes the lean handler today (a route that does not is compared all the
    # same); the hot reads and those with a session of their own at least.
    assert {
        "/watchlist/{userId}",
        "/portfolio/",
        "/trades",
        "/notifications",
        "/portfolio/{portfolioId}",
        "/portfolio/{portfolioId}/performance",
        "/users/me",
    } <= lean_paths


async def test_healthz_and_a_cached_quote_are_lean(
    client: httpx.AsyncClient, alice: Account, solves: list[int]
) -> None:
    for path in ("/healthz", "/api/v1/market/real-time/AAPL"):
        solves[0] = 0
        response = await client.get(path, headers=alice.headers)
        assert response.status_code == 200, response.text
        assert solves[0] == 0, path


# --- the shapes, one by one --------------------------------------------------------------------


class Item(BaseModel):
    id: int
    name: str
    tags: list[str] = []


class Filter(BaseModel):
    kind: str = "all"
    limit: int = 5


calls: list[str] = []


async def counted() -> str:
    calls.append("counted")
    return "c"


async def who(request: Request, x: Annotated[str, Depends(counted)]) -> str:
    return f"{request.url.path}:{x}"


async def again(x: Annotated[str, Depends(counted)], y: Annotated[str, Depends(who)]) -> str:
    return x + y


async def fresh() -> int:
    calls.append("fresh")
    return len(calls)


async def paged(limit: Annotated[int, Query(ge=1, le=10)] = 5, after: int | None = None) -> str:
    return f"{limit}:{after}"


def next_label() -> str:
    calls.append("factory")  # a default made by a factory is made for each request
    return f"made-{len(calls)}"


async def refuses(code: int) -> int:
    if code == 13:
        raise ValueError("unlucky")  # the app's 500, as any dependency raising
    return code


def _router() -> APIRouter:
    router = APIRouter(route_class=LeanRoute)

    @router.get("/items/{item_id}", response_model=Item)
    async def item(
        item_id: int, name: Annotated[str, Depends(who)], page: Annotated[str, Depends(paged)]
    ) -> dict[str, Any]:
        return {"id": item_id, "name": f"{name}|{page}", "extra": "dropped by the model"}

    @router.get("/listed")
    async def listed(
        tags: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
        size: Annotated[int, Query(alias="page-size", gt=0)] = 10,
        exact: Annotated[list[int] | None, Query()] = None,
    ) -> dict[str, Any]:
        return {"tags": tags, "size": size, "exact": exact}

    @router.get("/defaults")
    async def defaults(
        label: Annotated[str, Query(default_factory=next_label)],
        fixed: int = 3,
        flag: bool = False,
        ratio: float | None = 0.5,
    ) -> dict[str, Any]:
        return {"fixed": fixed, "label": label, "flag": flag, "ratio": ratio}

    @router.get("/checked")
    async def checked(
        short: Annotated[str, Query(validate_default=True, max_length=2)] = "abc",
    ) -> str:
        return short  # never: FastAPI validates the default, and it is too long

    @router.get("/filtered")
    async def filtered(query: Annotated[Filter, Query()]) -> Filter:
        return query

    @router.get("/twice")
    async def twice(a: Annotated[str, Depends(again)], b: Annotated[str, Depends(counted)]) -> str:
        return a + b

    @router.get("/uncached")
    async def uncached(
        a: Annotated[int, Depends(fresh, use_cache=False)],
        b: Annotated[int, Depends(fresh, use_cache=False)],
    ) -> list[int]:
        return [a, b]

    @router.get("/headers", status_code=202)
    async def headers(response: Response, later: BackgroundTasks) -> dict[str, str]:
        response.headers["x-set"] = "by the endpoint"
        later.add_task(calls.append, "after")
        return {"ok": "yes"}

    @router.get("/status")
    async def status_from_response(response: Response) -> None:
        response.status_code = 204

    @router.get("/plain", response_class=PlainTextResponse)
    async def plain() -> str:
        return "text"

    @router.get("/raw")
    async def raw(later: BackgroundTasks) -> Response:
        later.add_task(calls.append, "raw after")
        return Response("as built", media_type="text/x-flint", headers={"x-raw": "1"})

    @router.get("/codes/{code}")
    async def codes(code: Annotated[int, Depends(refuses)]) -> int:
        return code

    @router.get("/header")
    async def header(x_token: Annotated[str, Header()]) -> str:
        return x_token

    async def yielding() -> Any:
        calls.append("opened")
        yield "y"
        calls.append("closed")

    @router.get("/yield")
    async def with_yield(y: Annotated[str, Depends(yielding)]) -> str:
        return y

    def sync_dependency() -> str:
        return "sync"

    @router.get("/sync")
    async def with_sync(s: Annotated[str, Depends(sync_dependency)]) -> str:
        return s

    @router.post("/items")
    async def create(item: Item) -> Item:
        return item

    return router


def _app() -> FastAPI:
    app = FastAPI()
    app.include_router(_router(), prefix="/v1")
    return app


CASES = [
    ("/v1/items/7?limit=3&after=2", True),
    ("/v1/items/7", True),
    ("/v1/items/7?", True),
    ("/v1/items/7?other=1", True),  # a query string without the route's parameters
    ("/v1/defaults", True),
    ("/v1/defaults?fixed=4&label=given&flag=true&ratio=", True),
    ("/v1/checked", True),
    ("/v1/checked?short=ab", True),
    ("/v1/items/x?limit=0&after=y", True),  # errors of the path, then of the queries
    ("/v1/items/7?limit=11", True),
    ("/v1/listed?tags=a&tags=b&page-size=3&exact=1&exact=2", True),
    ("/v1/listed?page-size=0&exact=x&size=4", True),
    ("/v1/listed", True),
    ("/v1/filtered?kind=open&limit=2", True),
    ("/v1/filtered?limit=many", True),
    ("/v1/twice", True),
    ("/v1/uncached", True),
    ("/v1/headers", True),
    ("/v1/status", True),
    ("/v1/plain", True),
    ("/v1/raw", True),
    ("/v1/codes/12", True),
    ("/v1/codes/nope", True),
    ("/v1/header", False),
    ("/v1/yield", True),
    ("/v1/sync", True),
]


@pytest.mark.parametrize(("path", "lean"), CASES)
async def test_each_shape_answers_as_fastapi_does(path: str, lean: bool, solves: list[int]) -> None:
    app = _app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        calls.clear()
        solves[0] = 0
        mine = await client.get(path, headers={"x-token": "t"})
        mine_calls, calls[:] = list(calls), []
        assert (solves[0] == 0) is lean
        with FastAPIsOwn(app):
            theirs = await client.get(path, headers={"x-token": "t"})
        assert solves[0] >= 1
        assert told(mine) == told(theirs)
        assert mine_calls == calls


async def test_a_dependency_that_raises_raises_as_under_fastapi(solves: list[int]) -> None:
    app = _app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        mine = await client.get("/v1/codes/13")
        with FastAPIsOwn(app):
            theirs = await client.get("/v1/codes/13")
    assert mine.status_code == theirs.status_code == 500


async def test_a_body_keeps_fastapis_handler(solves: list[int]) -> None:
    app = _app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        created = await client.post("/v1/items", json={"id": 1, "name": "n"})
    assert created.status_code == 200
    assert solves[0] == 1
