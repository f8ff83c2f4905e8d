"""Brute-force protection: failed sign-ins are counted per email and per client address."""

from __future__ import annotations

import httpx

from flint.config import Settings
from tests.auth.helpers import UNVERSIONED, V1, WRONG, assert_throttled, login
from tests.conftest import Account, assert_problem


async def fail(client: httpx.AsyncClient, email: str, times: int) -> None:
    for attempt in range(times):
        response = await login(client, email, WRONG)
        assert response.status_code == 401, f"attempt {attempt + 1}: {response.text}"


async def test_more_than_five_failures_for_one_email_are_refused_with_retry_after(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    assert settings.login_max_failures_per_email == 5
    await fail(client, alice.email, 5)

    assert_throttled(await login(client, alice.email, WRONG))
    # Now even the right password is refused: the attacker may have just guessed it.
    assert_throttled(await login(client, alice.email, alice.password))
    form = {"username": alice.email, "password": alice.password}
    assert_throttled(await client.post(f"{V1}/token", data=form))


async def test_the_email_budget_is_shared_by_every_spelling_and_route(
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
