"""Registration: validated, normalised, case-insensitively unique emails and a password policy."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.users.models import User
from tests.auth.helpers import UNVERSIONED, V1, login
from tests.conftest import DEFAULT_PASSWORD, Account, assert_problem, error_fields


async def register(client: httpx.AsyncClient, body: Any, prefix: str = V1) -> httpx.Response:
    return await client.post(f"{prefix}/register", json=body)


async def user_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def test_register_creates_an_account_and_answers_its_id_and_email(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await register(client, {"email": "ada@example.com", "password": DEFAULT_PASSWORD})

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"userId", "email"}
    assert body["email"] == "ada@example.com"
    async with sessions() as session:
        user = await session.get(User, uuid.UUID(body["userId"]))
    assert user is not None
    assert user.email == "ada@example.com"
    assert user.is_active
    assert not user.is_superuser
    assert DEFAULT_PASSWORD not in user.hashed_password


async def test_register_is_also_served_without_the_version_prefix(
    client: httpx.AsyncClient,
) -> None:
    response = await register(
        client, {"email": "grace@example.com", "password": DEFAULT_PASSWORD}, prefix=UNVERSIONED
    )

    assert response.status_code == 201, response.text
    assert response.json()["email"] == "grace@example.com"
    assert (await login(client, "grace@example.com", DEFAULT_PASSWORD)).status_code == 200


async def test_register_normalises_the_email_so_any_casing_signs_in(
    client: httpx.AsyncClient,
) -> None:
    response = await register(
        client, {"email": "  Carol.Smith@EXAMPLE.Com ", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 201, response.text
    assert response.json()["email"] == "carol.smith@example.com"
    for spelling in (
        "carol.smith@example.com",
        "CAROL.SMITH@EXAMPLE.COM",
        "Carol.Smith@example.com",
    ):
        assert (await login(client, spelling, DEFAULT_PASSWORD)).status_code == 200, spelling


@pytest.mark.parametrize(
    "duplicate",
    ["alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com", " alice@example.com"],
)
async def test_register_refuses_an_email_already_taken_in_any_casing(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    duplicate: str,
) -> None:
    response = await register(client, {"email": duplicate, "password": "An0ther-fine-passphrase"})

    body = assert_problem(response, 409)
    assert body["type"] == "/problems/conflict"
    assert "already exists" in body["detail"]
    assert await user_count(sessions) == 1
    # The original account is untouched: its password still works, the new one does not.
    assert (await login(client, alice.email, alice.password)).status_code == 200
    assert (await login(client, alice.email, "An0ther-fine-passphrase")).status_code == 401


async def test_internationalised_emails_are_unique_and_sign_in_in_any_casing(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await register(client, {"email": "Émile@Example.com", "password": DEFAULT_PASSWORD})
    assert first.status_code == 201, first.text

    again = await register(client, {"email": "émile@example.com", "password": DEFAULT_PASSWORD})

    assert_problem(again, 409)
    assert await user_count(sessions) == 1
    for spelling in ("Émile@example.com", "émile@example.com", "ÉMILE@EXAMPLE.COM"):
        assert (await login(client, spelling, DEFAULT_PASSWORD)).status_code == 200, spelling


async def test_register_keeps_the_password_verbatim_including_surrounding_spaces(
    client: httpx.AsyncClient,
) -> None:
    padded = f"  {DEFAULT_PASSWORD}  "
    response = await register(client, {"email": "pad@example.com", "password": padded})
    assert response.status_code == 201, response.text

    assert (await login(client, "pad@example.com", padded)).status_code == 200
    assert (await login(client, "pad@example.com", DEFAULT_PASSWORD)).status_code == 401
    form = {"username": "pad@example.com", "password": padded}
    assert (await client.post(f"{V1}/token", data=form)).status_code == 200


LONG_EMAIL = f"{'a' * 60}@{'b' * 60}.{'c' * 60}.{'d' * 60}.{'e' * 60}.example.com"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param({}, {"body.email", "body.password"}, id="empty"),
        pytest.param({"email": "ada@example.com"}, {"body.password"}, id="no-password"),
        pytest.param({"password": DEFAULT_PASSWORD}, {"body.email"}, id="no-email"),
        pytest.param({"email": 5, "password": DEFAULT_PASSWORD}, {"body.email"}, id="email-int"),
        pytest.param({"email": None, "password": DEFAULT_PASSWORD}, {"body.email"}, id="null"),
        pytest.param(
            {"email": "ada@example.com", "password": 12345678901}, {"body.password"}, id="pw-int"
        ),
        pytest.param(
            {"email": "ada@example.com", "password": ["a", "b"]}, {"body.password"}, id="pw-list"
        ),
        pytest.param({"email": "no-at-sign", "password": DEFAULT_PASSWORD}, {"body.email"}),
        pytest.param({"email": "ada@", "password": DEFAULT_PASSWORD}, {"body.email"}),
        pytest.param({"email": "@example.com", "password": DEFAULT_PASSWORD}, {"body.email"}),
        pytest.param({"email": "ada@@example.com", "password": DEFAULT_PASSWORD}, {"body.email"}),
        pytest.param({"email": "ada@example", "password": DEFAULT_PASSWORD}, {"body.email"}),
        pytest.param({"email": "a b@example.com", "password": DEFAULT_PASSWORD}, {"body.email"}),
        pytest.param({"email": "", "password": DEFAULT_PASSWORD}, {"body.email"}, id="blank"),
        pytest.param(
            {"email": LONG_EMAIL, "password": DEFAULT_PASSWORD}, {"body.email"}, id="long"
        ),
        pytest.param({"email": "ada@example.com", "password": "x" * 2000}, {"body.password"}),
        pytest.param(
            {"email": "ada@example.com", "password": DEFAULT_PASSWORD, "name": "Ada"},
            {"body.name"},
            id="unknown-field",
        ),
        pytest.param(
            {"email": 5, "password": "", "isSuperuser": True},
            {"body.email", "body.password", "body.isSuperuser"},
            id="every-field-bad",
        ),
    ],
)
async def test_register_refuses_malformed_bodies_naming_each_bad_field(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    body: dict[str, Any],
    fields: set[str],
) -> None:
    response = await register(client, body)

    problem = assert_problem(response, 422)
    assert problem["type"] == "/problems/validation-error"
    assert error_fields(problem) == fields
    for error in problem["errors"]:
        assert error["message"]
        assert error["type"]
    assert await user_count(sessions) == 0


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        pytest.param("Sh0rt-pw!", "at least 10 characters", id="9-chars"),
        pytest.param("x7#" * 43, "at most 128 characters", id="129-chars"),
        pytest.param("password1234", "common", id="leaked"),
        pytest.param("PassWord1234", "common", id="leaked-any-case"),
        pytest.param("123456789012", "common", id="digit-run"),
        pytest.param("qwertyuiop", "common", id="keyboard-row"),
        pytest.param("aaaaaaaaaaaa", "common", id="repeated"),
        pytest.param("abcdefghijkl", "common", id="alphabet-run"),
        pytest.param("9876543210987", "common", id="descending"),
        pytest.param("ada.lovelace", "email", id="the-email-local-part"),
    ],
)
async def test_register_refuses_weak_passwords_naming_the_field(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    password: str,
    reason: str,
) -> None:
    response = await register(client, {"email": "Ada.Lovelace@example.com", "password": password})

    problem = assert_problem(response, 422)
    assert error_fields(problem) == {"body.password"}
    assert reason in problem["detail"]
    assert reason in problem["errors"][0]["message"]
    assert password not in response.text  # the refused password is never echoed back
    assert await user_count(sessions) == 0


@pytest.mark.parametrize("length", [10, 128])
async def test_register_accepts_passwords_at_the_length_limits(
    client: httpx.AsyncClient, length: int
) -> None:
    password = ("Zq8!vN2#rT5@" * 11)[:length]
    email = f"limit-{length}@example.com"

    response = await register(client, {"email": email, "password": password})

    assert response.status_code == 201, response.text
    assert (await login(client, email, password)).status_code == 200


async def test_register_answers_400_for_a_body_that_is_not_json(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        f"{V1}/register",
        content=b'{"email": "ada@example.com", "password": ',
        headers={"Content-Type": "application/json"},
    )

    problem = assert_problem(response, 400)
    assert problem["type"] == "/problems/malformed-body"
