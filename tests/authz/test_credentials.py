"""No credential, and every kind of bad one, everywhere (issue 20): each route of the app, read
from its router under /api/v1 and /api, answers 401 problem+json without a credential unless
the table of routes (`tests.routes`) says it is public and why; and with an expired, tampered,
unsigned (`alg: none`), foreign-keyed, other-audience or other-issuer token, a refresh or a
two-factor challenge token sent as an access token, a token of a sign-in that has ended
(signed out; a refresh token replayed; a password reset) or a revoked API key, every route
that is not public answers 401, and the quote stream closes with 4401. With the user's good
token each answers otherwise (the refusal is the credential's)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Mount

from flint.config import Settings
from tests.auth.helpers import bearer, login, take_queued
from tests.authz.credentials import SETTINGS, refused_credentials
from tests.conftest import Account, assert_problem, sign_up
from tests.market.stream_client import open_socket, receive, send, serving
from tests.market.test_stream import close_code
from tests.routes import OUTSIDE, PREFIXES, TABLE, USER, WEBSOCKETS, api_routes, app_routes, nobody
from tests.routes import split as split_api

# Refusing a credential reads no more of the database than the sign-in's state, which the auth
# tests check on both: these walks run on SQLite only.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(SETTINGS)


@pytest.fixture(autouse=True)
def no_queued_jobs() -> Any:
    """The password reset's jobs stay in this test (the in-memory broker outlives it)."""
    take_queued("")
    yield
    take_queued("")


def test_every_route_is_in_the_table_or_public_outside_the_api(app: FastAPI) -> None:
    unknown, sockets = [], set()
    for path, route in app_routes(app):
        where = split_api(path)
        if isinstance(route, APIWebSocketRoute) and where and where[1] in WEBSOCKETS:
            sockets.add(path)
        elif isinstance(route, Mount) or not isinstance(route, APIRoute):
            unknown += [] if ("GET", path) in OUTSIDE else [f"{path} ({type(route).__name__})"]
        else:
            for method in route.methods:
                if (method, path) not in OUTSIDE and (
                    where is None or (method, where[1]) not in TABLE
                ):
                    unknown.append(f"{method} {path}")
    assert unknown == []
    assert sockets == {prefix + path for prefix in PREFIXES for path in WEBSOCKETS}


async def test_no_route_but_the_public_ones_answers_without_a_credential(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    walked = 0
    for prefix, route, _ in api_routes(app):
        response = await route.request({**nobody(), USER: alice.user_id}).send(client, prefix)
        where = f"{route.method} {prefix}{route.path}: {response.status_code} {response.text}"
        if route.scope == "public":
            assert response.status_code != 401, where
            continue
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer", where
        walked += 1
    for (method, path), reason in OUTSIDE.items():
        if path != "/static/docs":
            answered = await client.request(method, path)
            assert answered.status_code < 400, f"{path} ({reason}): {answered.status_code}"
    assert walked > 120


ENDS_EVERY_SIGN_IN = {("POST", "/auth/logout-all")}
"""Routes whose good call signs the walking user out of every sign-in."""


async def test_every_refused_credential_is_a_401_everywhere(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    refused = await refused_credentials(client, app, alice)
    wrong, walked, own = [], 0, alice.headers
    for prefix, route, _ in api_routes(app):
        if route.scope == "public":
            continue
        request = route.request({**nobody(), USER: alice.user_id})
        for kind, headers in refused.items():
            response = await request.send(client, prefix, headers)
            walked += 1
            problem = response.headers.get("content-type", "").startswith("application/problem")
            if response.status_code != 401 or not problem:
                wrong.append(f"{route.method} {prefix}{route.path} with {kind}: {response.text}")
        if prefix == PREFIXES[0]:
            good = await request.send(client, prefix, own)
            assert good.status_code != 401, f"{route.method} {route.path}: {good.text}"
            if route.key in ENDS_EVERY_SIGN_IN:  # alice signs in again for the rest
                own = bearer((await login(client, alice.email, alice.password)).json()["token"])
    assert not wrong, "\n".join(wrong)
    assert walked > 120 * len(refused)


async def test_the_quote_stream_refuses_every_one_of_them(settings: Settings) -> None:
    quiet = settings.model_copy(update={"stream_poll_seconds": 0.0, "stream_ping_seconds": 0.0})
    async with serving(quiet) as served:
        owner = await sign_up(served.http)
        refused = await refused_credentials(served.http, served.app, owner)
        tokens = {
            kind: headers.get("Authorization", "").removeprefix("Bearer ") or headers["X-API-Key"]
            for kind, headers in refused.items()
        }
        for path in (prefix + ws for prefix in PREFIXES for ws in WEBSOCKETS):
            async with open_socket(served.url(path=path)) as ws:  # no token: a message instead
                await send(ws, {"action": "subscribe", "symbols": ["AAPL"]})
                assert await close_code(ws) == 4401, path
            for kind, token in tokens.items():
                async with open_socket(served.url(quote(token, safe=""), path)) as ws:
                    assert await close_code(ws) == 4401, f"{path} with {kind} in the URL"
                async with open_socket(served.url(path=path)) as ws:
                    await send(ws, {"action": "auth", "token": token})
                    assert await close_code(ws) == 4401, f"{path} with {kind} sent first"
            async with open_socket(served.url(owner.token, path)) as ws:
                assert (await receive(ws))["type"] == "ready", path
