"""Brute-force protection: failed sign-ins are counted per email and address, per address, and
per email from everywhere; that last one slows guessing down but locks nobody out."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from flint.config import Settings
from tests.auth.helpers import UNVERSIONED, V1, WRONG, assert_throttled, bearer, login
from tests.conftest import Account, assert_problem


async def fail(client: httpx.AsyncClient, email: str, times: int) -> None:
    for attempt in range(times):
        response = await login(client, email, WRONG)
        assert response.status_code == 401, f"attempt {attempt + 1}: {response.text}"


async def test_more_than_five_failures_for_one_email_from_one_address_are_refused(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    assert settings.login_max_failures_per_pair == 5
    await fail(client, alice.email, 5)

    assert_throttled(await login(client, alice.email, WRONG))
    # Now even the right password is refused: the attacker may have just guessed it.
    assert_throttled(await login(client, alice.email, alice.password))
    form = {"username": alice.email, "password": alice.password}
    assert_throttled(await client.post(f"{V1}/token", data=form))


async def test_the_budget_of_an_email_is_shared_by_every_spelling_and_route(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for prefix, email in [(V1, "alice@example.com"), (UNVERSIONED, "ALICE@example.com")]:
        assert_problem(await login(client, email, WRONG, prefix=prefix), 401)
    assert_problem(await login(client, " Alice@Example.com ", WRONG), 401)
    for prefix, email in [(V1, "alice@EXAMPLE.com"), (UNVERSIONED, "alice@example.com")]:
        form = {"username": email, "password": WRONG}
        assert_problem(await client.post(f"{prefix}/token", data=form), 401)

    assert_throttled(await login(client, "Alice@example.COM", alice.password))


async def test_throttling_one_email_leaves_other_accounts_alone(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await fail(client, alice.email, 5)

    assert_throttled(await login(client, alice.email, alice.password))
    response = await login(client, bob.email, bob.password)
    assert response.status_code == 200, response.text


async def test_unknown_emails_are_throttled_like_known_ones(client: httpx.AsyncClient) -> None:
    await fail(client, "nobody@example.com", 5)

    assert_throttled(await login(client, "nobody@example.com", WRONG))


async def test_twenty_failures_from_one_address_across_emails_are_refused(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    assert settings.login_max_failures_per_ip == 20
    for index in range(5):  # 4 failures each: no single email reaches its own limit
        await fail(client, f"victim-{index}@example.com", 4)

    assert_throttled(await login(client, "fresh@example.com", WRONG))
    # The address is blocked, so even a real user behind it with the right password waits.
    assert_throttled(await login(client, alice.email, alice.password))


async def test_successful_sign_ins_are_not_counted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for _ in range(6):
        assert (await login(client, alice.email, alice.password)).status_code == 200
    await fail(client, alice.email, 4)
    assert (await login(client, alice.email, alice.password)).status_code == 200

    # Four failures so far: the fifth is still a plain 401, the sixth attempt is throttled.
    assert_problem(await login(client, alice.email, WRONG), 401)
    assert_throttled(await login(client, alice.email, alice.password))


async def test_refused_attempts_are_not_counted_as_failures(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await fail(client, alice.email, 5)
    for _ in range(20):  # would trip the per-address limit if refused attempts were failures
        assert_throttled(await login(client, alice.email, WRONG))

    response = await login(client, bob.email, bob.password)
    assert response.status_code == 200, response.text


def client_at(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A client calling from ``address``."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_failures_from_elsewhere_do_not_lock_the_user_out(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    async with client_at(app, "203.0.113.66") as attacker:
        await fail(attacker, alice.email, 5)
        assert_throttled(await login(attacker, alice.email, WRONG))  # the 6th: that pair only
        assert_throttled(await login(attacker, alice.email, alice.password))

    response = await login(client, alice.email, alice.password)  # alice, from her own address

    assert response.status_code == 200, response.text
    assert (await client.get(f"{V1}/me", headers=bearer(response.json()["token"]))).is_success


class TestManyAddressesAgainstOneEmail:
    """Past the per-email budget (3 here) each failure doubles the wait of every address the
    account has not signed in from lately; the user's own address never waits."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"login_max_failures_per_email": 3}

    async def test_they_are_slowed_down_by_a_doubling_wait_that_the_users_address_skips(
        self, app: FastAPI, client: httpx.AsyncClient, alice: Account
    ) -> None:
        botnet = [client_at(app, f"198.51.100.{number}") for number in range(1, 9)]
        try:
            for bot in botnet[:4]:  # the fourth failure passes the budget: wait 1 s
                assert_problem(await login(bot, alice.email, WRONG), 401)
            waiting = await login(botnet[4], alice.email, alice.password)
            assert_throttled(waiting)  # even the right password, from a new address
            assert int(waiting.headers["retry-after"]) == 1
            at_home = await login(client, alice.email, alice.password)
            assert at_home.status_code == 200, at_home.text  # alice signed in from here before

            await asyncio.sleep(1.1)
            assert_problem(await login(botnet[5], alice.email, WRONG), 401)  # now wait 2 s
            assert int((await login(botnet[6], alice.email, WRONG)).headers["retry-after"]) == 2
            assert (await login(client, alice.email, alice.password)).status_code == 200
        finally:
            for bot in botnet:
                await bot.aclose()

    async def test_the_wait_holds_only_for_the_attacked_email(
        self, app: FastAPI, alice: Account, bob: Account
    ) -> None:
        async with client_at(app, "198.51.100.20") as elsewhere:
            for number in range(4):
                async with client_at(app, f"198.51.100.{number + 1}") as bot:
                    assert_problem(await login(bot, alice.email, WRONG), 401)
            assert_throttled(await login(elsewhere, alice.email, alice.password))

            response = await login(elsewhere, bob.email, bob.password)

        assert response.status_code == 200, response.text
