"""Changing the password while signed in: it takes the current password (and a code when
two-factor sign-in is on), ends every sign-in of the account, answers a new pair for the
caller, and tells the user; wrong answers are counted toward the lockout."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.users.models import User
from tests.auth.helpers import V1, bearer, login, me, outbox, refresh
from tests.auth.helpers_two_factor import Clock, turn_on
from tests.conftest import Account, assert_problem, error_fields

NEW = "A-brand-new-passphrase-42"
CHANGE = f"{V1}/change-password"


async def change(
    client: httpx.AsyncClient, account: Account, current: str, new: str = NEW, **extra: str
) -> httpx.Response:
    body = {"currentPassword": current, "newPassword": new, **extra}
    return await client.post(CHANGE, json=body, headers=account.headers)


async def password_hash(sessions: async_sessionmaker[AsyncSession], user_id: str) -> str:
    async with sessions() as session:
        stmt = select(User.hashed_password).where(User.id == uuid.UUID(user_id))
        return str((await session.execute(stmt)).scalar_one())


async def test_the_new_password_signs_in_and_every_other_sign_in_ends(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    elsewhere = (await login(client, alice.email, alice.password)).json()

    changed = await change(client, alice, alice.password)

    assert changed.status_code == 200, changed.text
    assert changed.headers["cache-control"] == "no-store"
    pair = changed.json()
    assert (await me(client, pair["token"])).status_code == 200
    assert (await refresh(client, pair["refreshToken"])).status_code == 200
    for token in (alice.token, elsewhere["token"]):  # this device's old token and another's
        assert_problem(await me(client, token), 401)
    for spent in (alice.refresh_token, elsewhere["refreshToken"]):
        assert_problem(await refresh(client, spent), 401)
    assert_problem(await login(client, alice.email, alice.password), 401)
    assert (await login(client, alice.email, NEW)).status_code == 200
    [notice] = [m for m in await outbox(sessions) if m.kind == "security"]
    assert (notice.recipient, notice.channel) == (alice.email, "email")
    assert "password was changed" in notice.subject


async def test_a_wrong_current_password_changes_nothing_and_is_counted(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    before = await password_hash(sessions, alice.user_id)
    for _ in range(5):
        refused = await change(client, alice, "not-the-password-at-all")
        assert assert_problem(refused, 403)["detail"] == "The password is incorrect."
    locked = await change(client, alice, alice.password)
    assert_problem(locked, 429)
    assert int(locked.headers["retry-after"]) > 0
    assert await password_hash(sessions, alice.user_id) == before
    assert (await me(client, alice.token)).status_code == 200  # the sign-in goes on
    assert (await login(client, alice.email, alice.password)).status_code == 200


@pytest.mark.parametrize(
    ("new", "why"),
    [
        ("short", "password must be at least 10 characters"),
        ("password123", "password is too common"),
        (None, "is the current password"),
    ],
)
async def test_a_new_password_the_rules_refuse_is_a_422_naming_it(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    new: str | None,
    why: str,
) -> None:
    before = await password_hash(sessions, alice.user_id)
    refused = await change(client, alice, alice.password, new or alice.password)
    errors = assert_problem(refused, 422)["errors"]
    assert [(e["field"], why in e["message"]) for e in errors] == [("body.newPassword", True)]
    assert await password_hash(sessions, alice.user_id) == before
    assert (await me(client, alice.token)).status_code == 200


async def test_with_two_factor_on_it_takes_a_code_too(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    clock: Clock,
) -> None:
    app = await turn_on(client, alice, clock)
    before = await password_hash(sessions, alice.user_id)
    missing = await change(client, alice, alice.password)
    assert "body.code" in error_fields(assert_problem(missing, 422))
    clock.advance(2)
    wrong = await change(client, alice, alice.password, code="000000")
    assert assert_problem(wrong, 403)["detail"] == "The password or the code is incorrect."
    assert await password_hash(sessions, alice.user_id) == before

    changed = await change(client, alice, alice.password, code=app.code(clock.now))
    assert changed.status_code == 200, changed.text
    signed_in = await login(client, alice.email, NEW)
    assert signed_in.json()["mfaRequired"] is True  # still two-factor


async def test_api_keys_cannot_change_it(client: httpx.AsyncClient, alice: Account) -> None:
    made = await client.post(
        "/api/v1/api-keys",
        json={"name": "everything", "scopes": ["read", "write", "trade"]},
        headers=alice.headers,
    )
    key = made.json()["key"]
    body = {"currentPassword": alice.password, "newPassword": NEW}
    refused = await client.post(CHANGE, json=body, headers=bearer(key))
    assert "`session`" in assert_problem(refused, 403)["detail"]
    assert (await login(client, alice.email, alice.password)).status_code == 200
