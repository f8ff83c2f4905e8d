"""The authorization matrix: every route of the app, called with a key of each scope.

The scope every route needs is in the one table of routes (tests/routes.py), reviewed by hand:
a route added later is not in it and fails `test_every_route_is_in_the_table` until its scope
is declared and added. `public` routes take no credential at all (a key sent to them changes
nothing); `session` routes refuse every key (they guard the account itself).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed

from flint.config import Settings
from tests.conftest import Account, assert_problem, sign_up
from tests.market.stream_client import open_socket, receive, serving
from tests.routes import ROUTES, USER, api_routes, nobody
from tests.users.keys_helpers import key_header, make_key

EXPECTED = {route.key: route.scope for route in ROUTES}
SCOPES = ("read", "write", "trade")


def test_every_route_is_in_the_table(app: FastAPI) -> None:
    found = {route.key for prefix, route, _ in api_routes(app) if prefix == "/api/v1"}
    assert found - EXPECTED.keys() == set(), "new routes: declare their scope in tests/routes.py"
    assert EXPECTED.keys() - found == set(), "routes gone: take them out of tests/routes.py"


def test_the_docs_name_each_operations_scope(app: FastAPI) -> None:
    operations = app.openapi()["paths"]
    for (method, path), scope in EXPECTED.items():
        declared = operations["/api/v1" + path][method.lower()].get("x-flint-scope")
        assert declared == (None if scope == "public" else scope), (method, path)


@pytest.fixture
async def keys(client: httpx.AsyncClient, alice: Account) -> dict[str, str]:
    return {scope: (await make_key(client, alice, scope))["key"] for scope in SCOPES}


async def test_every_route_with_a_key_of_each_scope(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, keys: dict[str, str]
) -> None:
    refused = allowed = 0
    for prefix, route, _ in api_routes(app):
        if prefix != "/api/v1":
            continue
        needed = EXPECTED[route.key]
        for scope, key in keys.items():
            sent = route.request({**nobody(), USER: alice.user_id})
            response = await sent.send(client, prefix, key_header(key))
            where = f"{route.method} {route.path} with a {scope} key: {response.status_code} "
            where += response.text
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
