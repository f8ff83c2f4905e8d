"""Password reset: an emailed single-use token that ends every session of the account. The
request only counts and enqueues; a worker's job looks the account up and sends the email."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.auth.models import PasswordResetToken
from flint.config import Settings
from flint.kit.secrets import token_digest
from flint.kit.time import utcnow
from tests.auth.helpers import (
    UNVERSIONED,
    V1,
    login,
    me,
    outbox,
    refresh,
    reset_token,
    reset_token_in,
    run_reset_jobs,
    sent_emails,
    text_of,
)
from tests.conftest import Account, assert_problem, error_fields

NEW_PASSWORD = "A-brand-new-passphrase-42"
ACCEPTED = "If an account exists for that email, a reset link is on its way."


async def request_reset(
    client: httpx.AsyncClient, address: str, prefix: str = V1
) -> httpx.Response:
    return await client.post(f"{prefix}/reset-password", json={"email": address})


async def confirm(
    client: httpx.AsyncClient, token: str, password: str = NEW_PASSWORD, prefix: str = V1
) -> httpx.Response:
    return await client.post(
        f"{prefix}/reset-password/confirm", json={"token": token, "newPassword": password}
    )


async def reset_token_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(PasswordResetToken)
        return int((await session.execute(stmt)).scalar_one())


def assert_token_refused(response: httpx.Response) -> None:
    problem = assert_problem(response, 422)
    assert problem["detail"] == "The reset token is invalid, expired or already used."


async def test_a_reset_request_has_a_worker_mail_the_account_a_single_use_token(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    alice: Account,
) -> None:
    response = await request_reset(client, alice.email)

    assert response.status_code == 202, response.text
    assert response.json() == {"message": ACCEPTED}
    assert await outbox(sessions) == []  # the request itself looks nothing up
    assert await run_reset_jobs(app) == 1
    [message] = await outbox(sessions)
    assert (message.recipient, str(message.user_id)) == ("alice@example.com", alice.user_id)
    assert (message.channel, message.kind, message.status) == ("email", "security", "sent")
    assert "reset" in message.subject.lower()
    [mail] = sent_emails(settings.data_dir).values()
    assert mail["To"] == "alice@example.com"
    assert mail["Subject"] == message.subject
    text = text_of(mail)
    token = reset_token_in(text)
    assert f"/reset-password?token={token}" in text
    async with sessions() as session:
        row = (await session.execute(select(PasswordResetToken))).scalar_one()
    assert str(row.user_id) == alice.user_id
    assert row.token_hash == token_digest(token)  # the database keeps only a digest
    assert row.used_at is None
    assert timedelta(minutes=29) < row.expires_at - utcnow() <= timedelta(minutes=30)


async def test_reset_request_answers_the_same_for_unknown_emails_and_sends_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    known = await request_reset(client, alice.email)
    unknown = await request_reset(client, "nobody@example.com")
    not_an_email = await request_reset(client, "not an email")

    assert known.status_code == unknown.status_code == not_an_email.status_code == 202
    assert known.json() == unknown.json() == not_an_email.json() == {"message": ACCEPTED}
    assert await run_reset_jobs(app) == 3
    assert [message.recipient for message in await outbox(sessions)] == [alice.email]
    assert await reset_token_rows(sessions) == 1


async def test_reset_request_finds_the_account_in_any_casing_and_without_the_version_prefix(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    response = await request_reset(client, " ALICE@Example.com ", prefix=UNVERSIONED)

    assert response.status_code == 202
    await run_reset_jobs(app)
    [message] = await outbox(sessions)
    assert message.recipient == "alice@example.com"


async def test_reset_request_refuses_malformed_bodies(client: httpx.AsyncClient) -> None:
    for body, fields in [
        ({}, {"body.email"}),
        ({"email": ""}, {"body.email"}),
        ({"email": ["alice@example.com"]}, {"body.email"}),
        ({"email": "a" * 321}, {"body.email"}),
        ({"email": "alice@example.com", "reason": "forgot"}, {"body.reason"}),
    ]:
        response = await client.post(f"{V1}/reset-password", json=body)
        assert error_fields(assert_problem(response, 422)) == fields, body


async def test_confirming_a_reset_changes_the_password(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    token = await reset_token(client, app, alice.email)

    response = await confirm(client, token)

    assert response.status_code == 200, response.text
    assert response.json() == {"message": "Your password has been changed. Sign in again."}
    assert_problem(await login(client, alice.email, alice.password), 401)
    signed_in = await login(client, alice.email, NEW_PASSWORD)
    assert signed_in.status_code == 200, signed_in.text
    assert (await me(client, signed_in.json()["token"])).json()["userId"] == alice.user_id
    assert (await refresh(client, signed_in.json()["refreshToken"])).status_code == 200


async def test_confirming_a_reset_ends_every_existing_session(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    phone = (await login(client, alice.email, alice.password)).json()
    rotated = (await refresh(client, alice.refresh_token)).json()
    token = await reset_token(client, app, alice.email)

    assert (await confirm(client, token)).status_code == 200

    for access in (alice.token, phone["token"], rotated["token"]):
        response = await me(client, access)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    for refresh_token in (phone["refreshToken"], rotated["refreshToken"]):
        assert_problem(await refresh(client, refresh_token), 401)


async def test_a_reset_leaves_other_users_signed_in(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    token = await reset_token(client, app, alice.email)

    assert (await confirm(client, token)).status_code == 200

    assert (await me(client, bob.token)).status_code == 200
    assert (await refresh(client, bob.refresh_token)).status_code == 200
    assert (await login(client, bob.email, bob.password)).status_code == 200


async def test_a_reset_token_works_only_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    token = await reset_token(client, app, alice.email)
    assert (await confirm(client, token)).status_code == 200

    again = await confirm(client, token, "Yet-another-passphrase-7")

    assert_token_refused(again)
    assert error_fields(again.json()) == {"body.token"}
    assert (await login(client, alice.email, NEW_PASSWORD)).status_code == 200
    assert_problem(await login(client, alice.email, "Yet-another-passphrase-7"), 401)


async def test_an_expired_reset_token_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    token = await reset_token(client, app, alice.email)
    async with sessions.begin() as session:
        await session.execute(
            update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )

    assert_token_refused(await confirm(client, token))
    assert (await login(client, alice.email, alice.password)).status_code == 200
    assert (await me(client, alice.token)).status_code == 200


async def test_garbage_reset_tokens_are_refused(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    token = await reset_token(client, app, alice.email)

    for garbage in ("garbage", token[:-1], alice.refresh_token, alice.token[:512]):
        response = await confirm(client, garbage)
        assert_token_refused(response)
        assert error_fields(response.json()) == {"body.token"}

    assert (await login(client, alice.email, alice.password)).status_code == 200
    assert (await confirm(client, token)).status_code == 200  # the real one is unharmed


async def test_a_weak_new_password_is_refused_without_spending_the_token(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    token = await reset_token(client, app, alice.email)

    for weak in ("short", "password1234", "123456789012", "qwertyuiop", "x" * 129):
        response = await confirm(client, token, weak)
        problem = assert_problem(response, 422)
        assert error_fields(problem) == {"body.newPassword"}, weak

    assert (await me(client, alice.token)).status_code == 200
    assert (await login(client, alice.email, alice.password)).status_code == 200
    assert (await confirm(client, token)).status_code == 200


async def test_confirm_accepts_snake_case_names_and_the_unversioned_prefix(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    token = await reset_token(client, app, alice.email)

    response = await client.post(
        f"{UNVERSIONED}/reset-password/confirm",
        json={"token": token, "new_password": NEW_PASSWORD},
    )

    assert response.status_code == 200, response.text
    assert (await login(client, alice.email, NEW_PASSWORD)).status_code == 200


async def test_confirm_refuses_malformed_bodies(client: httpx.AsyncClient) -> None:
    for body, fields in [
        ({}, {"body.token", "body.newPassword"}),
        ({"token": "abc"}, {"body.newPassword"}),
        ({"token": "", "newPassword": NEW_PASSWORD}, {"body.token"}),
        ({"token": 5, "newPassword": NEW_PASSWORD}, {"body.token"}),
        ({"token": "t" * 513, "newPassword": NEW_PASSWORD}, {"body.token"}),
        ({"token": "abc", "newPassword": "p" * 1025}, {"body.newPassword"}),
        (
            {"token": "abc", "newPassword": NEW_PASSWORD, "userId": str(uuid.uuid4())},
            {"body.userId"},
        ),
    ]:
        response = await client.post(f"{V1}/reset-password/confirm", json=body)
        assert error_fields(assert_problem(response, 422)) == fields, body


async def test_a_new_reset_link_makes_the_earlier_ones_stop_working(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    first = await reset_token(client, app, alice.email)
    second = await reset_token(client, app, alice.email)
    assert first != second
    assert [message.recipient for message in await outbox(sessions)] == [alice.email] * 2

    # Only the newest link is live: an older one left in a mailbox opens nothing.
    assert_token_refused(await confirm(client, first, "Yet-another-passphrase-7"))
    assert (await confirm(client, second)).status_code == 200
    assert (await login(client, alice.email, NEW_PASSWORD)).status_code == 200
    assert_token_refused(await confirm(client, first, "Yet-another-passphrase-7"))
