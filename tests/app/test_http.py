"""HTTP itself: every 405 names every method its path allows, a path belongs to its most specific
route, a 500 leaves a keep-alive connection usable, and a client gone mid-request is no 500."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute

from flint.app.main import API_ROUTERS, create_app
from flint.app.methods import Template, owner, templates
from flint.config import Settings
from tests.conftest import Account, assert_problem
from tests.stubs.server import serve

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
VALUES = {"symbol": "AAPL", "asset": "AAPL"}


def concrete(path: str) -> str:
    """`path` with each parameter filled with a plausible value (a UUID unless named above)."""
    return re.sub(r"\{(\w+)\}", lambda match: VALUES.get(match[1], str(uuid.uuid4())), path)


def walk(app: FastAPI) -> Iterator[tuple[Template, str]]:
    """Every HTTP path template the app serves, with a concrete path it matches."""
    for template in templates(app.routes):
        yield template, concrete(template.path)


def test_the_walk_sees_every_api_route_and_the_pairs_that_overlap(app: FastAPI) -> None:
    paths = {template.path for template, _ in walk(app)}
    assert {"/api/v1/trades/execute", "/api/trades/{tradeId}", "/healthz"} <= paths
    table = templates(app.routes)
    assert owner(table, "/api/v1/trades/execute").path == "/api/v1/trades/execute"  # type: ignore[union-attr]
    assert owner(table, f"/api/v1/trades/{uuid.uuid4()}").path == "/api/v1/trades/{tradeId}"  # type: ignore[union-attr]
    assert owner(table, "/api/v1/users/me").methods == {"DELETE", "GET", "PATCH"}  # type: ignore[union-attr]
    assert owner(table, "/api/v1/nowhere") is None


async def test_every_405_names_exactly_the_methods_its_path_answers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Walk every route and every method: a 405's `Allow` lists every method that does not
    answer 405 on that path, and only those."""
    checked = 0
    for template, path in walk(app):
        answers = {method: await client.request(method, path) for method in METHODS}
        refused = {method for method, response in answers.items() if response.status_code == 405}
        served = set(METHODS) - refused
        assert served, path
        for method in sorted(refused):
            response = answers[method]
            allowed = set(response.headers["allow"].split(", "))
            assert allowed == template.methods, f"{method} {path}: Allow {allowed}"
            assert allowed & set(METHODS) == served, f"{method} {path}: {served} answer"
            if method != "HEAD":  # a HEAD response has no body
                assert assert_problem(response, 405)["instance"] == path
            checked += 1
    assert checked > 300


@pytest.mark.parametrize("prefix", ["/api/v1", "/api"])
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/trades/execute", "POST"),
        ("DELETE", "/trades/execute", "POST"),
        ("GET", "/watchlist/add", "POST"),
        ("DELETE", "/accounts/connect", "POST"),
        ("GET", "/accounts/link", "POST"),
        ("PUT", "/users/me", "DELETE, GET, PATCH"),
        ("GET", "/reports/user/download", "GET"),  # not reportId "user": the user's reports
    ],
)
async def test_a_literal_segment_is_never_taken_for_an_id(
    client: httpx.AsyncClient, prefix: str, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, prefix + path)
    if method in allow:
        assert_problem(response, 401)  # the route of the literal path, which needs a token
        return
    problem = assert_problem(response, 405)
    assert response.headers["allow"] == allow
    assert "errors" not in problem  # not a complaint about an id that was never sent


def test_routes_come_in_an_order_where_the_most_specific_route_serves(app: FastAPI) -> None:
    """Starlette serves the first route matching path and method: for any path two routes of
    one method match, the more specific must come first."""
    table = templates(app.routes)
    for position, earlier in enumerate(table):
        for later in table[position + 1 :]:
            if not earlier.methods & later.methods:
                continue
            for first, second in ((earlier, later), (later, earlier)):
                path = concrete(first.path)
                if first.specificity < second.specificity and second.pattern.match(path):
                    assert first is earlier, f"{first.path} is shadowed by {second.path}"


async def test_a_malformed_id_is_still_a_422_about_that_id(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get("/api/v1/users/not-a-uuid", headers=alice.headers)
    problem = assert_problem(response, 422)  # no literal sibling is named so: it is an id
    assert [error["field"] for error in problem["errors"]] == ["path.userId"]


@pytest.fixture
def failing_server(settings: Settings) -> Iterator[str]:
    """The app served by uvicorn with one extra route that fails unexpectedly."""
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("kaboom")

    app.add_api_route("/boom", boom)
    with serve(app, lifespan="on", start_within=30) as url:
        yield url


def exchange(sock: socket.socket, path: str) -> bytes:
    """Send one keep-alive GET and read one whole response (headers and Content-Length body)."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: flint\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before the response to {path}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head)[1])  # type: ignore[index]
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed inside the response to {path}")
        body += chunk
    return head


def test_after_a_500_the_keep_alive_connection_serves_the_next_request(
    failing_server: str,
) -> None:
    host, port = httpx.URL(failing_server).host, httpx.URL(failing_server).port
    with socket.create_connection((host, port), timeout=10) as sock:
        failed = exchange(sock, "/boom")
        assert failed.startswith(b"HTTP/1.1 500 ")
        assert b"application/problem+json" in failed
        if re.search(rb"(?im)^connection:\s*close", failed):
            return  # announced: the client knows to open a new connection
        after = exchange(sock, "/healthz")
    assert after.startswith(b"HTTP/1.1 200 ")


async def _created(client: httpx.AsyncClient, who: Account, path: str, body: Any) -> Any:
    response = await client.post(path, json=body, headers=who.headers)
    assert response.status_code in (201, 202), response.text
    return response.json()


async def _portfolio(client: httpx.AsyncClient, who: Account) -> str:
    return str((await _created(client, who, f"{V1}/portfolio/", {"name": "Spare"}))["portfolioId"])


async def _deposit(client: httpx.AsyncClient, who: Account) -> str:
    portfolio = await _portfolio(client, who)
    row = {"date": "2024-04-01", "type": "deposit", "amount": "10"}
    made = await _created(client, who, f"{V1}/portfolio/{portfolio}/transactions", row)
    return f"/portfolio/{portfolio}/transactions/{made['transactionId']}"


async def _report(client: httpx.AsyncClient, who: Account) -> str:
    body = {"type": "portfolio_summary", "format": "pdf"}
    body["portfolioId"] = await _portfolio(client, who)
    return str((await _created(client, who, f"{V1}/reports/", body))["reportId"])


# For each route that declares 204, how to make it succeed: (method, template) -> the path.
NO_CONTENT: dict[tuple[str, str], Callable[[httpx.AsyncClient, Account], Awaitable[str]]] = {
    ("POST", "/auth/logout"): lambda client, who: _path("/auth/logout"),
    ("POST", "/auth/logout-all"): lambda client, who: _path("/auth/logout-all"),
    ("DELETE", "/auth/sessions/{sessionId}"): lambda client, who: _other_sign_in(client, who),
    ("DELETE", "/auth/sessions"): lambda client, who: _path("/auth/sessions"),
    ("DELETE", "/watchlist/{userId}/{asset}"): lambda client, who: _then(
        _created(client, who, f"{V1}/watchlist/add", {"userId": who.user_id, "asset": "AAPL"}),
        f"/watchlist/{who.user_id}/AAPL",
    ),
    ("DELETE", "/portfolio/{portfolioId}"): lambda client, who: _then(
        _portfolio(client, who), "/portfolio/{}"
    ),
    ("DELETE", "/assets/{symbol}"): lambda client, who: _then(
        _created(client, who, f"{V1}/assets", HOUSE), "/assets/my:house"
    ),
    ("DELETE", "/alerts/{alertId}"): lambda client, who: _then(
        _created(client, who, f"{V1}/alerts", ALERT), "/alerts/{alertId}"
    ),
    ("DELETE", "/reports/{reportId}"): lambda client, who: _then(
        _report(client, who), "/reports/{}"
    ),
    ("DELETE", "/accounts/{accountId}"): lambda client, who: _then(
        _created(client, who, f"{V1}/accounts/link", SANDBOX), "/accounts/{accountId}"
    ),
    ("DELETE", "/api-keys/{keyId}"): lambda client, who: _then(
        _created(client, who, f"{V1}/api-keys", {"name": "script", "scopes": ["read"]}),
        "/api-keys/{id}",
    ),
    ("DELETE", "/users/me"): lambda client, who: _path("/users/me"),
    ("DELETE", "/portfolio/{portfolioId}/transactions/{transactionId}"): lambda client, who: (
        _deposit(client, who)
    ),
}
BODIES: dict[str, Callable[[Account], Any]] = {
    "/auth/logout": lambda who: {"refreshToken": who.refresh_token},
    "/users/me": lambda who: {"email": who.email, "password": who.password},
}
"""The body each of them takes."""
V1 = "/api/v1"
HOUSE = {"symbol": "my:house", "name": "Our house", "currency": "USD", "assetClass": "real_estate"}
ALERT = {"symbol": "AAPL", "condition": "above", "threshold": "200.5"}
SANDBOX = {"provider": "sandbox", "authCode": "trader"}


async def _path(path: str) -> str:
    return path


async def _other_sign_in(client: httpx.AsyncClient, who: Account) -> str:
    """The path of a second sign-in of ``who`` (ending it leaves ``who``'s token working)."""
    login = {"email": who.email, "password": who.password}
    token = (await client.post(f"{V1}/auth/login", json=login)).json()["token"]
    listed = await client.get(f"{V1}/auth/sessions", headers={"Authorization": f"Bearer {token}"})
    current = next(s for s in listed.json()["sessions"] if s["current"])
    return f"/auth/sessions/{current['sessionId']}"


async def _then(created: Awaitable[Any], path: str) -> str:
    """`path` filled from what `created` answered: `{}` by the whole value, `{name}` by a key."""
    value = await created
    return path.format(value) if "{}" in path else path.format(**value)


def declared_no_content() -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for router in API_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.status_code == 204
        for method in route.methods
    }


def test_the_walk_knows_how_to_reach_every_route_that_declares_204() -> None:
    assert declared_no_content() == set(NO_CONTENT)


@pytest.mark.parametrize("operation", sorted(NO_CONTENT), ids=" ".join)
async def test_a_204_has_no_body_and_no_content_type(
    client: httpx.AsyncClient, alice: Account, operation: tuple[str, str]
) -> None:
    method, template = operation
    path = V1 + await NO_CONTENT[operation](client, alice)
    body = BODIES.get(template, lambda who: None)(alice)
    response = await client.request(method, path, json=body, headers=alice.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert "content-type" not in response.headers
    assert response.headers.get("content-length", "0") == "0"


async def test_a_client_gone_before_its_upload_arrived_is_no_server_error(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    """A client that hangs up before the body it announced has arrived (a closed tab, a load
    generator stopping with requests in flight: the soak bench found it on the import route)
    is not Flint's failure: answered 499 (nginx's "client closed request", seen only by the
    access log and the metrics, the client being gone) with an info record, not the 500
    `unhandled_error` with its traceback at error level, which alerting and Sentry take for a
    defect."""
    created = await client.post("/api/v1/portfolio/", json={"name": "Gone"}, headers=alice.headers)
    assert created.status_code == 201, created.text
    portfolio = f"/api/v1/portfolio/{created.json()['portfolioId']}"
    path = f"{portfolio}/import"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", alice.headers["Authorization"].encode()),
            (b"content-type", b"text/csv"),
            (b"content-length", b"120"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def hung_up() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with structlog.testing.capture_logs() as logs:
        await app(scope, hung_up, send)

    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [499]
    assert [e["event"] for e in logs if e["log_level"] in ("error", "critical")] == []
    assert [e["path"] for e in logs if e["event"] == "client_disconnected"] == [path]
    listed = await client.get(f"{portfolio}/transactions", headers=alice.headers)
    assert listed.json()["transactions"] == []
