"""Signing in with Auth0, through the app's HTTP API against a stub tenant (its keys and its
``/userinfo``): a new Auth0 user becomes a Flint user, a verified email links the local account
and an unverified one never takes it over, and every defective token is the same 401."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.users.api import Auth0Verifier, Principals, User
from tests.auth.helpers import V1, login, outbox, run_reset_jobs
from tests.conftest import DEFAULT_PASSWORD, Account, assert_problem, sign_up
from tests.stubs.auth0 import Tenant, auth0_settings, forged_hs256, requests_to, tenant, tenant_stub
from tests.stubs.server import RunningStub

__all__ = ["tenant", "tenant_stub"]  # the fixtures, imported for pytest

ME = "/api/v1/users/me"


@pytest.fixture
def settings_overrides(tenant: Tenant, tenant_stub: RunningStub) -> dict[str, Any]:
    return auth0_settings(tenant, tenant_stub)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def users_named(sessions: async_sessionmaker[AsyncSession], email: str) -> list[User]:
    async with sessions() as session:
        stmt = select(User).where(func.lower(User.email) == email)
        return list((await session.execute(stmt)).scalars())


async def test_a_new_auth0_user_becomes_a_flint_user_once(
    client: httpx.AsyncClient,
    tenant: Tenant,
    tenant_stub: RunningStub,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await client.get(ME, headers=bearer(tenant.token()))
    assert first.status_code == 200, first.text
    profile = first.json()
    assert (profile["email"], profile["name"]) == ("alice@example.com", "Alice Auth0")
    assert requests_to(tenant_stub.control, "/userinfo") == 1  # the token carries no email

    again = await client.get(ME, headers=bearer(tenant.token(jti="another")))
    assert again.json()["userId"] == profile["userId"]
    assert requests_to(tenant_stub.control, "/userinfo") == 1

    [user] = await users_named(sessions, "alice@example.com")
    assert (str(user.id), user.auth0_sub, user.has_password) == (
        profile["userId"],
        "auth0|alice",
        False,
    )


async def test_a_known_subject_is_found_without_asking_auth0_when_the_cache_is_cold(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, tenant_stub: RunningStub
) -> None:
    first = await client.get(ME, headers=bearer(tenant.token()))
    await app.state.runtime.get(Principals).cache.clear()
    again = await client.get(ME, headers=bearer(tenant.token()))
    assert again.json()["userId"] == first.json()["userId"]
    assert requests_to(tenant_stub.control, "/userinfo") == 1


async def test_an_email_in_the_token_needs_no_userinfo(
    client: httpx.AsyncClient, tenant: Tenant, tenant_stub: RunningStub
) -> None:
    token = tenant.token(sub="auth0|bob", email="bob@example.com", email_verified=False)
    response = await client.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert (response.json()["email"], response.json()["name"]) == ("bob@example.com", None)
    assert requests_to(tenant_stub.control, "/userinfo") == 0


async def test_the_first_requests_of_a_new_user_at_once_create_one_user(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    answers = await asyncio.gather(
        *(client.get(ME, headers=bearer(tenant.token(jti=str(n)))) for n in range(4))
    )
    assert [answer.status_code for answer in answers] == [200] * 4, [a.text for a in answers]
    assert len({answer.json()["userId"] for answer in answers}) == 1
    assert len(await users_named(sessions, "alice@example.com")) == 1


async def test_a_verified_email_links_the_local_account_which_keeps_its_password(
    client: httpx.AsyncClient, tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    local = await sign_up(client, "alice@example.com")

    response = await client.get(ME, headers=bearer(tenant.token()))
    assert response.json()["userId"] == local.user_id

    [user] = await users_named(sessions, "alice@example.com")
    assert user.auth0_sub == "auth0|alice"
    assert (await login(client, local.email, local.password)).status_code == 200


async def test_an_unverified_email_never_takes_over_the_local_account(
    client: httpx.AsyncClient, tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    local = await sign_up(client, "alice@example.com")
    tenant.profiles["auth0|alice"]["email_verified"] = False

    problem = assert_problem(await client.get(ME, headers=bearer(tenant.token())), 409)
    assert problem["type"] == "/problems/email-not-verified"
    assert "Verify your email address with Auth0" in problem["detail"]
    [user] = await users_named(sessions, "alice@example.com")
    assert (str(user.id), user.auth0_sub) == (local.user_id, None)

    # Once Auth0 has verified the address, the next request links it.
    tenant.profiles["auth0|alice"]["email_verified"] = True
    response = await client.get(ME, headers=bearer(tenant.token()))
    assert response.json()["userId"] == local.user_id


async def test_an_account_linked_to_one_auth0_user_is_not_linked_to_another(
    client: httpx.AsyncClient, tenant: Tenant, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await client.get(ME, headers=bearer(tenant.token()))
    tenant.profiles["auth0|alice-again"] = dict(tenant.profiles["auth0|alice"])

    other = await client.get(ME, headers=bearer(tenant.token(sub="auth0|alice-again")))
    assert "linked to another Auth0 user" in assert_problem(other, 409)["detail"]
    [user] = await users_named(sessions, "alice@example.com")
    assert user.auth0_sub == "auth0|alice"


async def test_the_user_auth0_made_cannot_sign_in_or_reset_a_password_locally(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    await client.get(ME, headers=bearer(tenant.token()))
    assert_problem(await login(client, "alice@example.com", DEFAULT_PASSWORD), 401)
    reset = await client.post(f"{V1}/reset-password", json={"email": "alice@example.com"})
    assert reset.status_code == 202
    assert await run_reset_jobs(app) == 1
    assert await outbox(app.state.runtime.sessions) == []
    body = {"currentPassword": DEFAULT_PASSWORD, "newPassword": "A-brand-new-passphrase-42"}
    changed = await client.post(f"{V1}/change-password", json=body, headers=bearer(tenant.token()))
    assert "Auth0" in assert_problem(changed, 409)["detail"]
    assert_problem(await login(client, "alice@example.com", body["newPassword"]), 401)


async def test_the_user_auth0_made_closes_the_account_with_its_email_alone(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    token = tenant.token()
    first = await client.get(ME, headers=bearer(token))
    assert first.status_code == 200
    closed_id = first.json()["userId"]
    wrong = {"email": "bob@example.com"}
    refused = await client.request("DELETE", ME, json=wrong, headers=bearer(token))
    assert_problem(refused, 422)
    body = {"email": "alice@example.com"}
    closed = await client.request("DELETE", ME, json=body, headers=bearer(token))
    assert closed.status_code == 204, closed.text
    assert await users_named(sessions, "alice@example.com") == []
    assert_problem(await client.get(ME, headers=bearer(token)), 401)  # every sign-in ended
    cold = app.state.runtime.get(Principals)
    await cold.cache.clear()  # nothing cached decides it: the closing is stored
    assert_problem(await client.get(ME, headers=bearer(tenant.token(jti="same-day"))), 401)
    later = tenant.token(  # Auth0 signs in again: its new token carries the email
        jti="again", iat=int(time.time()) + 2, email="alice@example.com", email_verified=True
    )
    fresh = await client.get(ME, headers=bearer(later))  # at Auth0 again: a new, empty account
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["userId"] != closed_id


async def test_a_rotated_key_is_fetched_and_works(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, tenant_stub: RunningStub
) -> None:
    first = await client.get(ME, headers=bearer(tenant.token()))
    assert first.status_code == 200
    verifier = app.state.runtime.get(Auth0Verifier)
    verifier._fetched_at = time.monotonic() - 61  # a minute later, the tenant rotates its key
    tenant.rotate()

    rotated = await client.get(ME, headers=bearer(tenant.token()))
    assert rotated.json()["userId"] == first.json()["userId"]
    assert requests_to(tenant_stub.control, "/.well-known/jwks.json") == 2


@pytest.mark.parametrize("defect", ["wrong-audience", "expired", "hs256-with-public-key"])
async def test_a_defective_token_is_the_same_401_and_creates_no_user(
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessions: async_sessionmaker[AsyncSession],
    defect: str,
) -> None:
    token = {
        "wrong-audience": lambda: tenant.token(aud="https://someone-else.example"),
        "expired": lambda: tenant.token(exp=int(time.time()) - 60),
        "hs256-with-public-key": lambda: forged_hs256(tenant),
    }[defect]()
    problem = assert_problem(await client.get(ME, headers=bearer(token)), 401)
    assert problem["detail"] == "The access token is invalid or has expired."
    assert await users_named(sessions, "alice@example.com") == []


async def test_an_inactive_users_auth0_token_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    user_id = (await client.get(ME, headers=bearer(tenant.token()))).json()["userId"]
    async with sessions() as session:
        user = await session.get(User, uuid.UUID(user_id))
        assert user is not None
        user.is_active = False
        await session.commit()
    await app.state.runtime.get(Principals).forget(uuid.UUID(user_id))

    assert_problem(await client.get(ME, headers=bearer(tenant.token())), 401)


async def test_auth0_not_answering_who_the_user_is_is_a_503_and_creates_no_user(
    client: httpx.AsyncClient,
    tenant: Tenant,
    tenant_stub: RunningStub,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bob = tenant.token(sub="auth0|bob", email="bob@example.com")
    assert (await client.get(ME, headers=bearer(bob))).status_code == 200  # the keys are held
    tenant_stub.control.set("rate_limited", times=1)
    assert_problem(await client.get(ME, headers=bearer(tenant.token())), 503)
    assert await users_named(sessions, "alice@example.com") == []
    assert (await client.get(ME, headers=bearer(tenant.token()))).status_code == 200


async def test_local_sign_in_goes_on_beside_auth0(
    client: httpx.AsyncClient, tenant: Tenant, bob: Account
) -> None:
    assert (await client.get(ME, headers=bob.headers)).json()["email"] == bob.email
    assert (await client.get(ME, headers=bearer(tenant.token()))).status_code == 200
