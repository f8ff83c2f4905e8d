"""Signing in (JSON and the OAuth2 password form) and reading the signed-in user."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.kit.time import utcnow
from flint.users.models import User
from tests.auth.helpers import UNVERSIONED, V1, bearer, login, me, user_row, without_request_id
from tests.conftest import Account, assert_problem, error_fields


async def test_login_answers_a_bearer_token_pair(client: httpx.AsyncClient, alice: Account) -> None:
    response = await login(client, alice.email, alice.password)

    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"token", "expiresIn", "refreshToken", "tokenType"}
    assert pair["tokenType"] == "bearer"
    assert pair["expiresIn"] == 15 * 60
    assert pair["token"].count(".") == 2  # a JWT
    assert pair["refreshToken"]
    assert "." not in pair["refreshToken"]
    assert pair["token"] != alice.token
    assert pair["refreshToken"] != alice.refresh_token
    assert (await me(client, pair["token"])).json()["userId"] == alice.user_id


async def test_login_is_also_served_without_the_version_prefix(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await login(client, alice.email, alice.password, prefix=UNVERSIONED)

    assert response.status_code == 200, response.text
    token = response.json()["token"]
    profile = await client.get(f"{UNVERSIONED}/me", headers=bearer(token))
    assert profile.status_code == 200
    assert profile.json()["email"] == alice.email


@pytest.mark.parametrize(
    "spelling", ["ALICE@EXAMPLE.COM", "Alice@Example.Com", " alice@example.com "]
)
async def test_login_ignores_the_casing_of_the_email(
    client: httpx.AsyncClient, alice: Account, spelling: str
) -> None:
    response = await login(client, spelling, alice.password)

    assert response.status_code == 200, response.text
    assert (await me(client, response.json()["token"])).json()["userId"] == alice.user_id


async def test_login_with_a_wrong_password_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await login(client, alice.email, alice.password + "x")

    problem = assert_problem(response, 401)
    assert problem["type"] == "/problems/unauthorized"
    assert problem["detail"] == "The email or password is incorrect."
    assert response.headers["www-authenticate"] == "Bearer"
    assert "token" not in problem


async def test_wrong_password_and_unknown_email_get_identical_answers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    wrong_password = await login(client, alice.email, "Not-the-right-passw0rd")
    unknown_email = await login(client, "nobody@example.com", "Not-the-right-passw0rd")

    assert_problem(wrong_password, 401)
    assert_problem(unknown_email, 401)
    assert without_request_id(wrong_password.json()) == without_request_id(unknown_email.json())
    for header in ("content-type", "www-authenticate", "content-length"):
        assert wrong_password.headers.get(header) == unknown_email.headers.get(header)


async def test_a_deactivated_account_cannot_sign_in_and_looks_like_a_wrong_password(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    async with sessions.begin() as session:
        await session.execute(update(User).values(is_active=False))

    refused = await login(client, alice.email, alice.password)
    unknown = await login(client, "nobody@example.com", alice.password)

    assert_problem(refused, 401)
    assert without_request_id(refused.json()) == without_request_id(unknown.json())
    assert_problem(await me(client, alice.token), 401)


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"body.email", "body.password"}),
        ({"email": "alice@example.com"}, {"body.password"}),
        ({"email": "", "password": "x"}, {"body.email"}),
        ({"email": 5, "password": "Tr0ub4dor&3-horse-staple"}, {"body.email"}),
        ({"email": "alice@example.com", "password": "p" * 1025}, {"body.password"}),
        ({"email": "a" * 321, "password": "Tr0ub4dor&3-horse-staple"}, {"body.email"}),
        ({"email": "alice@example.com", "password": "x", "remember": True}, {"body.remember"}),
    ],
)
async def test_login_refuses_malformed_bodies_naming_each_bad_field(
    client: httpx.AsyncClient, body: dict[str, object], fields: set[str]
) -> None:
    response = await client.post(f"{V1}/login", json=body)

    assert error_fields(assert_problem(response, 422)) == fields


async def test_login_records_the_time_of_the_last_sign_in(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    before = utcnow()

    assert (await login(client, alice.email, alice.password)).status_code == 200

    last_login = (await user_row(sessions, alice.email)).last_login
    assert last_login is not None
    assert before - timedelta(seconds=1) <= last_login <= utcnow()


@pytest.mark.owasp_hashing
async def test_login_upgrades_a_hash_made_with_weaker_parameters(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID)
    async with sessions.begin() as session:
        await session.execute(update(User).values(hashed_password=weak.hash(alice.password)))

    assert (await login(client, alice.email, alice.password)).status_code == 200

    upgraded = (await user_row(sessions, alice.email)).hashed_password
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert (await login(client, alice.email, alice.password)).status_code == 200


async def test_oauth2_password_form_signs_in_with_the_email_as_username(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        f"{V1}/token", data={"username": alice.email, "password": alice.password}
    )

    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert answer["token_type"] == "bearer"
    assert answer["expires_in"] == 15 * 60
    profile = await me(client, answer["access_token"])
    assert profile.status_code == 200
    assert profile.json()["userId"] == alice.user_id
    renewed = await client.post(f"{V1}/refresh", json={"refreshToken": answer["refresh_token"]})
    assert renewed.status_code == 200, renewed.text


async def test_oauth2_password_form_accepts_the_grant_type_and_casing_of_the_email(
    client: httpx.AsyncClient, alice: Account
) -> None:
    form = {"grant_type": "password", "username": "ALICE@example.com", "password": alice.password}

    response = await client.post(f"{UNVERSIONED}/token", data=form)

    assert response.status_code == 200, response.text
    assert (await me(client, response.json()["access_token"])).status_code == 200


async def test_oauth2_password_form_refuses_a_wrong_password_like_the_json_login(
    client: httpx.AsyncClient, alice: Account
) -> None:
    form = await client.post(f"{V1}/token", data={"username": alice.email, "password": "nope"})
    json_login = await login(client, alice.email, "nope")

    assert_problem(form, 401)
    assert form.headers["www-authenticate"] == "Bearer"
    assert without_request_id(form.json()) == without_request_id(json_login.json())


async def test_oauth2_password_form_requires_username_and_password(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(f"{V1}/token", data={})

    assert error_fields(assert_problem(response, 422)) == {"body.username", "body.password"}


async def test_me_answers_the_signed_in_users_profile(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get(f"{V1}/me", headers=alice.headers)

    assert response.status_code == 200, response.text
    profile = response.json()
    assert set(profile) == {
        "userId",
        "name",
        "email",
        "accounts",
        "createdAt",
        "lastLogin",
        "preferences",
    }
    assert profile["userId"] == alice.user_id
    assert profile["email"] == "alice@example.com"
    assert profile["name"] is None
    assert profile["accounts"] == []
    assert profile["preferences"] == {
        "theme": "system",
        "notifications": {"email": True, "sms": False},
    }
    created = datetime.fromisoformat(profile["createdAt"])
    last_login = datetime.fromisoformat(profile["lastLogin"])
    assert created.utcoffset() == timedelta(0)
    assert created <= last_login <= utcnow()
    assert "hashedPassword" not in profile
    assert "password" not in response.text.lower()


async def test_me_answers_each_user_their_own_profile(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    alices = (await client.get(f"{V1}/me", headers=alice.headers)).json()
    bobs = (await client.get(f"{UNVERSIONED}/me", headers=bob.headers)).json()

    assert (alices["userId"], alices["email"]) == (alice.user_id, "alice@example.com")
    assert (bobs["userId"], bobs["email"]) == (bob.user_id, "bob@example.com")


async def test_me_without_a_token_asks_for_bearer_authentication(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"{V1}/me")

    problem = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in problem["detail"]
