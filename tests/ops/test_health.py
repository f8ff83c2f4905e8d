from __future__ import annotations

import httpx

from tests.conftest import Account


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_reports_the_database_and_broker_reachable(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"status": "ok", "detail": None}, "broker": {"status": "ok", "detail": None}},
    }


async def test_signed_in_user_reads_own_profile(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get("/api/v1/auth/me", headers=alice.headers)
    assert response.status_code == 200
    assert response.json()["email"] == "alice@example.com"
