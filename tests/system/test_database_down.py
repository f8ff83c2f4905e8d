"""PostgreSQL going away under a running API: every database-backed route answers 503 with
``Retry-After`` (as `/readyz` says), not 500, and the API recovers by itself when it returns.
The database sits behind a `faults.Gate`, so no other test loses its server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import Account, assert_problem, empty_database
from tests.system.faults import Gate

pytestmark = [pytest.mark.waits, pytest.mark.postgres]


@pytest.fixture
async def gate(postgres_database: str) -> AsyncIterator[Gate]:
    url = make_url(postgres_database)
    opened = Gate(url.host or "127.0.0.1", url.port or 5432)
    await opened.open()
    yield opened
    await opened.shut()


@pytest.fixture
def database_url(postgres_database: str, gate: Gate) -> Iterator[str]:
    url = make_url(postgres_database).set(port=gate.port)
    yield url.render_as_string(hide_password=False)
    # The worker's database, emptied as the shared fixture empties it: the next test on this
    # worker found this one's Alice and its sign-up answered 409.
    empty_database(postgres_database)


async def test_every_database_route_answers_503_while_postgresql_is_down_then_recovers(
    client: httpx.AsyncClient, alice: Account, gate: Gate
) -> None:
    made = await client.post("/api/v1/portfolio/", json={"name": "Kept"}, headers=alice.headers)
    assert made.status_code == 201, made.text

    await gate.shut()
    for method, path, body in [
        ("GET", "/api/v1/portfolio/", None),  # the read path's own pool
        ("GET", "/api/v1/users/me", None),
        ("POST", "/api/v1/portfolio/", {"name": "Lost"}),  # a write
        ("GET", "/api/v1/trades", None),
    ]:
        answer = await client.request(method, path, json=body, headers=alice.headers)
        problem = assert_problem(answer, 503)
        assert answer.headers["Retry-After"].isdigit(), path
        assert problem["type"] == "/problems/database-unavailable", path
    assert (await client.get("/healthz")).status_code == 200  # the process itself is alive
    assert (await client.get("/readyz")).status_code == 503

    await gate.open()
    listed = await client.get("/api/v1/portfolio/", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    assert [p["name"] for p in listed.json()["portfolios"]] == ["Kept"]
    again = await client.post("/api/v1/portfolio/", json={"name": "After"}, headers=alice.headers)
    assert again.status_code == 201, again.text
