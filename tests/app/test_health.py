from __future__ import annotations

from typing import Any

import httpx
import pytest

from flint.app.ops import Readiness
from tests.conftest import Account, service_url
from tests.notifications.test_outbox import free_port


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_database_and_broker_reachable(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": {"status": "ok", "detail": None, "required": True},
            "broker": {"status": "ok", "detail": None, "required": True},
        },
    }


async def test_signed_in_user_reads_own_profile(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get("/api/v1/auth/me", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    marker = request.node.get_closest_marker("redis")
    if marker is None:
        return {}
    if marker.args[0] == "live":
        return {"redis_url": service_url("FLINT_TEST_REDIS_URL", "Redis")}
    return {"redis_url": f"redis://127.0.0.1:{free_port()}/0"}


@pytest.mark.redis("live")
async def test_readyz_reports_redis_when_it_is_configured(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"] == {"status": "ok", "detail": None, "required": True}


@pytest.mark.redis("down")
async def test_readyz_answers_503_naming_the_dependency_that_is_down(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "error"
    assert "127.0.0.1" not in response.text


async def test_readyz_documents_its_answer_with_a_realistic_example(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    answers = spec["paths"]["/readyz"]["get"]["responses"]
    refs = {
        answers[code]["content"]["application/json"]["schema"]["$ref"] for code in ("200", "503")
    }
    assert refs == {"#/components/schemas/Readiness"}
    [example] = spec["components"]["schemas"]["Readiness"]["examples"]

    assert Readiness.model_validate(example).checks["database"].status == "ok"
    live = (await client.get("/readyz")).json()
    assert live.keys() == example.keys()
    assert example["checks"]["database"].keys() <= live["checks"]["database"].keys()  # no nulls
