"""App-wide behaviour: problem+json errors, body limits, request ids, /api and /api/v1, OpenAPI."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from flint.app.main import REQUEST_ID
from flint.config import Settings
from flint.errors import PlanLimitReached
from flint.web import SessionDep
from tests.conftest import DEFAULT_PASSWORD, Account, assert_problem, error_fields
from tests.routes import TABLE, nobody

LEAKS = ("Traceback", "SELECT", "sqlalchemy", "no_such_table", 'File "', "secret kaboom")


def assert_no_leaks(response: httpx.Response) -> None:
    for leak in LEAKS:
        assert leak not in response.text, f"{leak!r} in {response.text}"


async def streamed(chunk: bytes, count: int) -> AsyncIterator[bytes]:
    for _ in range(count):
        yield chunk


# --- every error is a problem document --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        (
            "POST",
            "/api/v1/auth/login",
            {"content": b"{", "headers": {"content-type": "application/json"}},
            400,
        ),
        ("GET", "/api/v1/users/me", {}, 401),
        ("GET", "/api/v1/no-such-thing", {}, 404),
        ("GET", "/nowhere", {}, 404),
        ("DELETE", "/api/v1/auth/register", {}, 405),
        ("POST", "/api/v1/auth/register", {"json": {}}, 422),
        ("POST", "/api/v1/auth/register", {"content": b"x" * (1024 * 1024 + 1)}, 413),
    ],
    ids=["400", "401", "404-api", "404", "405", "422", "413"],
)
async def test_every_error_is_a_problem_document(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    response = await client.request(method, path, **kwargs)

    body = assert_problem(response, status)
    assert body["type"].startswith("/problems/")
    assert body["instance"] == path
    assert body["requestId"] == response.headers["x-request-id"]
    assert set(body) <= {"type", "title", "status", "detail", "instance", "requestId", "errors"}
    assert_no_leaks(response)


async def test_validation_errors_list_each_field_with_message_and_type(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/api/v1/auth/register", json={})

    body = assert_problem(response, 422)
    assert body["type"] == "/problems/validation-error"
    assert error_fields(body) == {"body.email", "body.password"}
    for error in body["errors"]:
        assert set(error) == {"field", "message", "type"}
        assert error["type"] == "missing"
        assert error["message"]
    assert "body.email" in body["detail"]


async def test_a_validators_message_reads_as_written(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Pydantic writes a validator's ValueError as "Value error, <message>"; the answers,
    a CSV's refused lines and a Ghostfolio file's refused activities showed that prefix."""
    portfolio = await client.post("/api/v1/portfolio/", json={"name": "P"}, headers=alice.headers)
    pid = portfolio.json()["portfolioId"]
    entry = {"date": "2024-01-02", "type": "deposit", "amount": "0"}
    booked = await client.post(
        f"/api/v1/portfolio/{pid}/transactions", json=entry, headers=alice.headers
    )
    file = "date,type,amount\n2024-01-02,deposit,0\n"
    imported = await client.post(
        f"/api/v1/portfolio/{pid}/import",
        content=file,
        headers=alice.headers | {"Content-Type": "text/csv"},
    )
    fee = {"type": "FEE", "date": "2024-01-02", "quantity": 0, "unitPrice": 0, "fee": 0}
    gf = await client.post(
        "/api/v1/portfolio/import/ghostfolio", json={"activities": [fee]}, headers=alice.headers
    )
    for response, field in [
        (booked, "body.amount"),
        (imported, "line 2.amount"),
        (gf, "activities[0].fee"),
    ]:
        body = assert_problem(response, 422)
        messages = {e["field"]: e["message"] for e in body["errors"]}
        assert messages[field] == "must be greater than 0", body


async def test_malformed_json_is_a_400_naming_json_invalid(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": "alice@example.com", "password": ',
        headers={"content-type": "application/json"},
    )

    body = assert_problem(response, 400)
    assert body["type"] == "/problems/malformed-body"
    assert [error["type"] for error in body["errors"]] == ["json_invalid"]


async def test_json_that_is_not_an_object_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/auth/login", json=["alice@example.com", "secret"])

    assert_problem(response, 422)


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/no-such-area/everything")

    body = assert_problem(response, 404)
    assert body["detail"] == "No route GET /api/v1/no-such-area/everything."


async def test_a_wrong_method_is_a_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/v1/watchlist/add", json={})

    body = assert_problem(response, 405)
    assert body["type"] == "/problems/method-not-allowed"
    assert response.headers["allow"] == "POST"


# --- body size limit --------------------------------------------------------------------------


async def test_a_body_over_the_limit_with_content_length_is_413(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b" " * (settings.max_body_bytes + 1),
        headers={"content-type": "application/json"},
    )

    body = assert_problem(response, 413)
    assert response.request.headers["content-length"] == str(settings.max_body_bytes + 1)
    assert body["type"] == "/problems/payload-too-large"
    assert body["detail"] == f"Request bodies are limited to {settings.max_body_bytes} bytes."


async def test_a_streamed_body_over_the_limit_without_content_length_is_413(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    chunk = b" " * 65536
    count = settings.max_body_bytes // len(chunk) + 2

    response = await client.post(
        "/api/v1/watchlist/add",
        content=streamed(chunk, count),
        headers={**alice.headers, "content-type": "application/json"},
    )

    body = assert_problem(response, 413)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert body["type"] == "/problems/payload-too-large"
    assert body["detail"] == f"Request bodies are limited to {settings.max_body_bytes} bytes."
    assert body["requestId"] == response.headers["x-request-id"]


async def test_a_streamed_body_over_the_limit_of_a_form_endpoint_is_413(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/api/v1/auth/token",
        content=streamed(b"a" * 65536, settings.max_body_bytes // 65536 + 2),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )

    assert_problem(response, 413)


async def test_a_body_exactly_at_the_limit_is_processed(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    payload = b'{"email": "alice@example.com", "password": "%s"}' % alice.password.encode()
    padded = payload + b" " * (settings.max_body_bytes - len(payload))

    declared = await client.post(
        "/api/v1/auth/login", content=padded, headers={"content-type": "application/json"}
    )
    chunked = await client.post(
        "/api/v1/auth/login",
        content=streamed(padded, 1),
        headers={"content-type": "application/json"},
    )

    assert len(padded) == settings.max_body_bytes
    assert declared.status_code == 200, declared.text
    assert chunked.status_code == 200, chunked.text


async def test_a_small_streamed_body_is_read_whole(client: httpx.AsyncClient) -> None:
    payload = b'{"email": "carol@example.com", "password": "%s"}' % DEFAULT_PASSWORD.encode()
    pieces = [payload[i : i + 7] for i in range(0, len(payload), 7)]

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    response = await client.post(
        "/api/v1/auth/register", content=body(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 201, response.text
    assert response.json()["email"] == "carol@example.com"


async def test_a_domain_error_adds_its_extension_members_to_the_problem(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    class Special(PlanLimitReached):
        def __init__(self) -> None:
            super().__init__(
                "Over.", limit="portfolios", allowed=2, usage=2, plan="free", upgrade_to="premium"
            )
            self.extensions["status"] = 200  # a standard member is never overridden

    async def refuse() -> None:
        raise Special()

    app.add_api_route("/refuse", refuse)

    body = assert_problem(await client.get("/refuse"), 403)

    assert body["type"] == "/problems/plan-limit"
    assert {k: body[k] for k in ("limit", "allowed", "usage", "plan", "upgradeTo")} == {
        "limit": "portfolios",
        "allowed": 2,
        "usage": 2,
        "plan": "free",
        "upgradeTo": "premium",
    }


# --- unexpected errors ------------------------------------------------------------------------


async def test_an_unexpected_exception_is_a_500_problem_with_only_the_request_id(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    async def boom() -> None:
        raise RuntimeError("secret kaboom at /srv/flint/db.py")

    app.add_api_route("/boom", boom)

    response = await client.get("/boom", headers={"X-Request-ID": "trace-500"})

    body = assert_problem(response, 500)
    assert body == {
        "type": "/problems/internal",
        "title": "Internal server error",
        "status": 500,
        "detail": "Something went wrong on our side; quote the request id when reporting it.",
        "instance": "/boom",
        "requestId": "trace-500",
    }
    assert response.headers["x-request-id"] == "trace-500"
    assert "RuntimeError" not in response.text
    assert_no_leaks(response)


async def test_a_500_gets_a_generated_request_id_in_header_and_body(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    async def boom() -> None:
        raise ValueError("nope")

    app.add_api_route("/boom", boom)

    response = await client.get("/boom")

    body = assert_problem(response, 500)
    assert REQUEST_ID.fullmatch(body["requestId"])
    assert response.headers["x-request-id"] == body["requestId"]


async def test_a_database_error_is_a_500_without_sql(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    async def broken_query(session: SessionDep) -> None:
        await session.execute(text("SELECT secret_column FROM no_such_table"))

    app.add_api_route("/broken-query", broken_query)

    response = await client.get("/broken-query")

    assert_problem(response, 500)
    assert_no_leaks(response)
    assert "secret_column" not in response.text
    assert (await client.get("/readyz")).status_code == 200


# --- request ids ------------------------------------------------------------------------------


async def test_a_client_request_id_is_echoed_on_success(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "client-req.42:a"})

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "client-req.42:a"


async def test_a_client_request_id_is_the_problems_request_id(client: httpx.AsyncClient) -> None:
    request_id = str(uuid.uuid4())

    response = await client.get("/api/v1/users/me", headers={"X-Request-ID": request_id})

    body = assert_problem(response, 401)
    assert body["requestId"] == request_id
    assert response.headers["x-request-id"] == request_id


async def test_a_request_id_of_128_characters_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "r" * 128})

    assert response.headers["x-request-id"] == "r" * 128


@pytest.mark.parametrize(
    "bad_id",
    ["x" * 300, "r" * 129, "has spaces in it", "semi;colon", "slash/y", "<script>", "ü-umlaut"],
)
async def test_an_invalid_request_id_is_replaced_by_a_generated_one(
    client: httpx.AsyncClient, bad_id: str
) -> None:
    response = await client.get("/api/v1/users/me", headers=[("X-Request-ID", bad_id.encode())])

    body = assert_problem(response, 401)
    generated = response.headers["x-request-id"]
    assert generated != bad_id
    assert REQUEST_ID.fullmatch(generated)
    assert body["requestId"] == generated
    assert bad_id not in response.text


async def test_each_request_without_an_id_gets_a_fresh_one(client: httpx.AsyncClient) -> None:
    ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)}

    assert len(ids) == 3
    assert all(REQUEST_ID.fullmatch(request_id) for request_id in ids)


# --- /api and /api/v1 -------------------------------------------------------------------------


async def test_api_and_api_v1_serve_the_same_operations(client: httpx.AsyncClient) -> None:
    credentials = {"email": "dana@example.com", "password": DEFAULT_PASSWORD}
    registered = await client.post("/api/auth/register", json=credentials)
    assert registered.status_code == 201, registered.text

    login = await client.post("/api/v1/auth/login", json=credentials)
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}

    unversioned = await client.get("/api/users/me", headers=headers)
    v1 = await client.get("/api/v1/users/me", headers=headers)
    assert unversioned.status_code == v1.status_code == 200
    assert unversioned.json() == v1.json()
    assert v1.json()["userId"] == registered.json()["userId"]


async def test_every_api_v1_operation_answers_the_same_under_api(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    operations = [
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if path.startswith("/api/v1/")
    ]
    assert len(operations) >= 10

    for method, path in operations:
        route = TABLE[(method, path.removeprefix("/api/v1"))]
        concrete = "/api/v1" + route.request(nobody()).path  # ids filled as the table says
        twin = "/api/" + concrete.removeprefix("/api/v1/")
        kwargs: dict[str, Any] = {"json": {}} if method in {"POST", "PATCH", "PUT"} else {}
        v1 = await client.request(method, concrete, **kwargs)
        unversioned = await client.request(method, twin, **kwargs)

        assert v1.status_code not in {404, 405}, (method, path, v1.text)
        assert unversioned.status_code == v1.status_code, (method, twin, unversioned.text)
        for response in (v1, unversioned):
            assert response.headers["content-type"] == v1.headers["content-type"]
        if v1.headers["content-type"].startswith("application/problem+json"):
            same = {"type", "title", "status", "errors"}
            expected = {k: v for k, v in v1.json().items() if k in same}
            assert {k: v for k, v in unversioned.json().items() if k in same} == expected


async def test_openapi_lists_only_api_v1_paths_and_the_probes(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")

    assert response.status_code == 200
    paths = set(response.json()["paths"])
    assert {"/healthz", "/readyz"} <= paths
    assert {"/api/v1/users/{userId}", "/api/v1/watchlist/add", "/api/v1/auth/login"} <= paths
    assert paths - {"/healthz", "/readyz"} == {p for p in paths if p.startswith("/api/v1/")}


async def test_openapi_operation_ids_are_unique(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]

    assert len(ids) == len(set(ids))


async def test_sqlite_busy_past_its_timeout_is_a_503_with_retry_after(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The database cannot be used just now (SQLite's "database is locked" after its busy
    timeout; PostgreSQL down is tests/system/test_database_down.py): 503 with Retry-After,
    while a statement gone wrong stays a 500 (above)."""

    async def locked(session: SessionDep) -> None:
        raise OperationalError(
            "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
        )

    app.add_api_route("/locked", locked)
    response = await client.get("/locked")
    body = assert_problem(response, 503)
    assert body["type"] == "/problems/database-unavailable"
    assert response.headers["Retry-After"] == "5"
