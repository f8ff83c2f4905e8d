"""The authorization matrix: every route of the app, called with a key of each scope.

The table below names the scope every route needs, reviewed by hand: a route added later is
not in it and fails `test_every_route_is_in_the_table` until its scope is declared and added.
`public` routes take no credential at all (a key sent to them changes nothing); `session`
routes refuse every key (they guard the account itself).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from websockets.exceptions import ConnectionClosed

from flint.config import Settings
from tests.conftest import Account, assert_problem, sign_up
from tests.market.stream_client import open_socket, receive, serving
from tests.users.keys_helpers import key_header, make_key

ROUTES = """
public  POST   /auth/register
public  POST   /auth/login
public  POST   /auth/token
public  POST   /auth/refresh
session POST   /auth/logout
read    GET    /auth/me
public  POST   /auth/reset-password
public  POST   /auth/reset-password/confirm
session GET    /auth/2fa
session POST   /auth/2fa/setup
session GET    /auth/2fa/qr.svg
session POST   /auth/2fa/enable
session POST   /auth/2fa/disable
public  POST   /auth/2fa/verify
read    GET    /users/me
write   PATCH  /users/me
read    GET    /users/{userId}
session POST   /api-keys
session GET    /api-keys
session DELETE /api-keys/{keyId}
write   POST   /watchlist/add
read    GET    /watchlist/{userId}
write   DELETE /watchlist/{userId}/{asset}
read    GET    /market/real-time/{symbol}
read    GET    /market/historical/{symbol}
read    GET    /market/search
write   POST   /accounts/connect
write   POST   /accounts/link
read    GET    /accounts
read    GET    /accounts/{accountId}
write   POST   /accounts/{accountId}/sync
write   DELETE /accounts/{accountId}
trade   POST   /trades/preview
trade   POST   /trades/execute
read    GET    /trades
read    GET    /trades/{tradeId}
read    GET    /trades/{tradeId}/events
trade   POST   /trades/{tradeId}/resolve
trade   DELETE /trades/{tradeId}
write   POST   /portfolio/
read    GET    /portfolio/
read    GET    /portfolio/{portfolioId}
write   PUT    /portfolio/{portfolioId}
write   PUT    /portfolio/{portfolioId}/follow
write   DELETE /portfolio/{portfolioId}/follow
write   DELETE /portfolio/{portfolioId}
write   POST   /portfolio/{portfolioId}/transactions
read    GET    /portfolio/{portfolioId}/transactions
read    GET    /portfolio/{portfolioId}/performance
read    GET    /portfolio/{portfolioId}/performance/chart
write   POST   /portfolio/{portfolioId}/import
read    GET    /portfolio/{portfolioId}/imports
read    GET    /portfolio/{portfolioId}/imports/{jobId}
read    GET    /portfolio/{portfolioId}/export
write   POST   /portfolio/import/ghostfolio
write   POST   /assets
read    GET    /assets
read    GET    /assets/{symbol}
write   PUT    /assets/{symbol}
write   DELETE /assets/{symbol}
write   PUT    /assets/{symbol}/prices
read    GET    /assets/{symbol}/prices
write   POST   /reports/
read    GET    /reports/user/{userId}
read    GET    /reports/{reportId}
read    GET    /reports/{reportId}/download
write   DELETE /reports/{reportId}
read    GET    /notifications
write   POST   /notifications/read-all
read    GET    /notifications/preferences
write   PUT    /notifications/preferences
write   POST   /notifications/{notificationId}/read
write   POST   /alerts
read    GET    /alerts
read    GET    /alerts/{alertId}
write   DELETE /alerts/{alertId}
session POST   /billing/checkout-session
session POST   /billing/portal-session
read    GET    /billing/subscription
public  POST   /billing/webhook
public  POST   /webhooks/snaptrade
"""
EXPECTED = {
    (method, path): scope
    for scope, method, path in (line.split() for line in ROUTES.strip().splitlines())
}
SCOPES = ("read", "write", "trade")
PARAM = re.compile(r"\{(\w+)\}")


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute]]:
    """Every HTTP operation under /api/v1, as (method, path without the prefix, route)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = context.path or ""
        if isinstance(route, APIRoute) and path.startswith("/api/v1/"):
            for method in sorted(context.methods or ()):
                yield method, path.removeprefix("/api/v1"), route


def test_every_route_is_in_the_table(app: FastAPI) -> None:
    found = {(method, path) for method, path, _ in api_routes(app)}
    assert found - EXPECTED.keys() == set(), "new routes: declare their scope and add them here"
    assert EXPECTED.keys() - found == set(), "routes gone: take them out of the table"


def test_the_docs_name_each_operations_scope(app: FastAPI) -> None:
    operations = app.openapi()["paths"]
    for (method, path), scope in EXPECTED.items():
        declared = operations["/api/v1" + path][method.lower()].get("x-flint-scope")
        assert declared == (None if scope == "public" else scope), (method, path)


def concrete(path: str, owner: Account) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "userId":
            return owner.user_id
        return "AAPL" if name in {"symbol", "asset"} else str(uuid.uuid4())

    return "/api/v1" + PARAM.sub(fill, path)


@pytest.fixture
async def keys(client: httpx.AsyncClient, alice: Account) -> dict[str, str]:
    return {scope: (await make_key(client, alice, scope))["key"] for scope in SCOPES}


async def call(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]
) -> httpx.Response:
    body: dict[str, Any] = {"json": {}} if method not in {"GET", "HEAD", "DELETE"} else {}
    return await client.request(method, url, headers=headers, **body)


async def test_every_route_with_a_key_of_each_scope(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, keys: dict[str, str]
) -> None:
    refused = allowed = 0
    for method, path, _ in api_routes(app):
        needed = EXPECTED[(method, path)]
        for scope, key in keys.items():
            response = await call(client, method, concrete(path, alice), key_header(key))
            where = f"{method} {path} with a {scope} key: {response.status_code} {response.text}"
            if needed == "public" or needed == scope:
                assert response.status_code not in (401, 403), where
                allowed += 1
                continue
            body = assert_problem(response, 403)
            assert f"`{needed}`" in body["detail"], where
            refused += 1
    assert refused > allowed > 0  # the walk reached the routes


async def test_the_unversioned_paths_check_the_same_scopes(
    client: httpx.AsyncClient, alice: Account, keys: dict[str, str]
) -> None:
    body = {"accountId": str(uuid.uuid4()), "symbol": "AAPL", "side": "buy", "quantity": "1"}
    for key in (keys["read"], keys["write"]):
        refused = await client.post("/api/trades/execute", json=body, headers=key_header(key))
        assert "`trade`" in assert_problem(refused, 403)["detail"]
    placed = await client.post("/api/trades/execute", json=body, headers=key_header(keys["trade"]))
    assert placed.status_code not in (401, 403), placed.text
    listed = await client.get("/api/api-keys", headers=key_header(keys["read"]))
    assert "`session`" in assert_problem(listed, 403)["detail"]


async def test_a_key_with_several_scopes_has_each(
    client: httpx.AsyncClient, alice: Account
) -> None:
    key = key_header((await make_key(client, alice, "read", "write"))["key"])
    assert (await client.get("/api/v1/alerts", headers=key)).status_code == 200
    created = await client.post(
        "/api/v1/alerts",
        json={"symbol": "AAPL", "condition": "above", "threshold": "500"},
        headers=key,
    )
    assert created.status_code == 201, created.text
    refused = await client.delete(f"/api/v1/trades/{uuid.uuid4()}", headers=key)
    assert "`trade`" in assert_problem(refused, 403)["detail"]


async def test_a_key_cannot_open_the_quote_stream(settings: Settings) -> None:
    """The stream takes access tokens only: it re-checks a sign-in, which a key has not."""
    quiet = settings.model_copy(update={"stream_poll_seconds": 0.0, "stream_ping_seconds": 0.0})
    async with serving(quiet) as served:
        owner = await sign_up(served.http)
        key = (await make_key(served.http, owner, "read", "write", "trade"))["key"]
        async with open_socket(served.url(key)) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws, within=10.0)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
        async with open_socket(served.url(owner.token)) as ws:
            assert (await receive(ws))["type"] == "ready"  # the same user's token opens it
