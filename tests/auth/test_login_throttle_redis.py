"""With Redis configured, failed sign-ins are counted there, so every API process sees them.

The Redis server may be shared with other test runs, so each test uses a fresh email and a
fresh client address: counts left behind by earlier runs cannot reach these tests.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from flint.app.main import create_app
from flint.config import Settings
from tests.auth.helpers import WRONG, assert_throttled, login
from tests.conftest import service_url, sign_up


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"redis_url": service_url("FLINT_TEST_REDIS_URL", "Redis")}


@pytest.fixture
def address() -> str:
    """A client address no other test run uses, so the per-address budget is this test's own."""
    return "10." + ".".join(str(random.randint(1, 254)) for _ in range(3))


def client_for(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app, address) as http:
        yield http


async def test_failures_counted_in_redis_throttle_the_email(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert settings.redis_url
    account = await sign_up(client)
    for _ in range(5):
        assert (await login(client, account.email, WRONG)).status_code == 401

    assert_throttled(await login(client, account.email, WRONG))
    assert_throttled(await login(client, account.email, account.password))


async def test_api_processes_sharing_redis_share_the_failure_count(
    client: httpx.AsyncClient, settings: Settings, address: str
) -> None:
    account = await sign_up(client)
    other_process = create_app(settings)
    try:
        async with client_for(other_process, address) as other:
            for http in (client, other, client, other, client):
                assert (await login(http, account.email, WRONG)).status_code == 401

            assert_throttled(await login(other, account.email, account.password))
            assert_throttled(await login(client, account.email, account.password))
    finally:
        await other_process.state.runtime.aclose()


def random_address() -> str:
    return "10." + ".".join(str(random.randint(1, 254)) for _ in range(3))


class TestEmailWait:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {
            "redis_url": service_url("FLINT_TEST_REDIS_URL", "Redis"),
            "login_max_failures_per_email": 2,
        }

    async def test_the_wait_of_an_email_and_its_known_addresses_are_shared_by_processes(
        self, app: FastAPI, client: httpx.AsyncClient, settings: Settings, address: str
    ) -> None:
        account = await sign_up(client)  # signed in from `address`
        other_process = create_app(settings)
        try:
            for http_app in (app, other_process, app):  # the third failure: a 1 s wait
                async with client_for(http_app, random_address()) as bot:
                    assert (await login(bot, account.email, WRONG)).status_code == 401

            async with client_for(other_process, random_address()) as stranger:
                assert_throttled(await login(stranger, account.email, account.password))
            async with client_for(other_process, address) as at_home:
                response = await login(at_home, account.email, account.password)
            assert response.status_code == 200, response.text
        finally:
            await other_process.state.runtime.aclose()
