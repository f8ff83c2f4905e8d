"""The API's request limits (in-process counts here; Redis and its outages in
tests/app/test_rate_limits_redis.py): per user, per address, stricter on sign-up."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from flint.config import Settings
from tests.conftest import DEFAULT_PASSWORD, assert_problem, sign_up


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Windows long enough that no test straddles one's end (the windows are clock-aligned)."""
    return {"rate_limit_user": "4/hour", "rate_limit_ip": "6/hour", "rate_limit_signup": "3/day"}


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def budget(response: httpx.Response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["ratelimit-limit"]),
        int(headers["ratelimit-remaining"]),
        int(headers["ratelimit-reset"]),
    )


def assert_limited(response: httpx.Response, limit: int, window: int) -> None:
    body = assert_problem(response, 429)
    assert body["type"] == "/problems/rate-limited"
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= window
    assert budget(response) == (limit, 0, retry)


async def test_an_address_gets_its_budget_then_429(app: FastAPI) -> None:
    async with client_at(app, "192.0.2.10") as client, client_at(app, "192.0.2.11") as other:
        answers = [await client.get("/api/v1/auth/me") for _ in range(6)]
        assert [answer.status_code for answer in answers] == [401] * 6
        assert [budget(answer)[:2] for answer in answers] == [(6, n) for n in range(5, -1, -1)]
        assert all(1 <= budget(answer)[2] <= 3600 for answer in answers)

        refused = await client.get("/openapi.json")
        assert_limited(refused, 6, 3600)
        assert (await other.get("/openapi.json")).status_code == 200
        for probe in ("/healthz", "/readyz"):  # never limited, and no budget shown
            answer = await client.get(probe)
            assert answer.status_code == 200
            assert "ratelimit-limit" not in answer.headers


async def test_a_signed_in_user_has_one_budget_from_every_address(app: FastAPI) -> None:
    async with client_at(app, "192.0.2.20") as home, client_at(app, "192.0.2.21") as phone:
        alice = await sign_up(home)
        bob = await sign_up(home)
        for remaining in (3, 2):
            answer = await home.get("/api/v1/auth/me", headers=alice.headers)
            assert answer.json()["email"] == alice.email
            assert budget(answer)[:2] == (4, remaining)
        for remaining in (1, 0):
            answer = await phone.get("/api/v1/auth/me", headers=alice.headers)
            assert budget(answer)[:2] == (4, remaining)

        assert_limited(await phone.get("/api/v1/auth/me", headers=alice.headers), 4, 3600)
        assert_limited(await home.get("/api/v1/auth/me", headers=alice.headers), 4, 3600)
        # Bob's budget is his own, and the address's is untouched by Alice's requests.
        answer = await home.get("/api/v1/auth/me", headers=bob.headers)
        assert answer.json()["email"] == bob.email
        assert budget(answer)[:2] == (4, 3)
        assert budget(await home.get("/openapi.json"))[0] == 6


async def test_invented_tokens_count_against_the_address(app: FastAPI) -> None:
    async with client_at(app, "192.0.2.30") as client:
        for _ in range(6):
            forged = {"Authorization": f"Bearer {uuid.uuid4().hex}"}
            answer = await client.get("/api/v1/auth/me", headers=forged)
            assert answer.status_code == 401
        assert_limited(await client.get("/api/v1/auth/me", headers=forged), 6, 3600)


async def test_signup_and_password_reset_share_a_stricter_budget(app: FastAPI) -> None:
    async with client_at(app, "192.0.2.40") as client, client_at(app, "192.0.2.41") as other:
        await sign_up(client)  # one registration (its login is not sign-up)
        reset = await client.post("/api/v1/auth/reset-password", json={"email": "a@example.com"})
        assert reset.status_code == 202
        assert budget(reset)[:2] == (3, 1)
        email = f"late-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "password": DEFAULT_PASSWORD}
        assert (await client.post("/api/auth/register", json=body)).status_code == 201

        refused = await client.post("/api/v1/auth/register", json={**body, "email": f"x{email}"})
        assert_limited(refused, 3, 86400)
        assert refused.json()["detail"] == "At most 3 requests per day; try again later."
        # The refused registration made no account: the email is still free elsewhere.
        elsewhere = await other.post("/api/v1/auth/register", json={**body, "email": f"x{email}"})
        assert elsewhere.status_code == 201
        # Other routes from the address still have their own budget, and so does any other
        # method on the sign-up paths (a 405 registers nobody and sends no mail).
        assert budget(await client.get("/openapi.json"))[0] == 6
        wrong_method = await client.get("/api/v1/auth/register")
        assert wrong_method.status_code == 405
        assert budget(wrong_method)[0] == 6


class TestDisabled:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limits_enabled": False, "rate_limit_ip": "1/minute"}

    async def test_no_limits_and_no_budget_headers(self, client: httpx.AsyncClient) -> None:
        for _ in range(3):
            answer = await client.get("/openapi.json")
            assert answer.status_code == 200
            assert "ratelimit-limit" not in answer.headers


def test_defaults_never_trouble_a_busy_client() -> None:
    settings = Settings(_env_file=None)
    assert settings.rate_limits_enabled
    assert (settings.rate_limit_user, settings.rate_limit_ip, settings.rate_limit_signup) == (
        "600/minute",
        "1200/minute",
        "20/hour",
    )


@pytest.mark.parametrize("value", ["", "lots", "600/fortnight", "5/minute;100/hour"])
def test_a_limit_that_is_not_one_window_stops_start_up(value: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit_user"):
        Settings(_env_file=None, rate_limit_user=value)
