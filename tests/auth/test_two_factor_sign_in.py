"""Signing in with two-factor sign-in on: the password earns an mfaToken, a code turns it into
the usual token pair; codes within one step either side work, each once; recovery codes work
once each; wrong codes are counted."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from limits.aio.storage import MemoryStorage
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.auth.models import TwoFactorChallenge
from flint.auth.twofactor import FailureBudget, TwoFactorConfig
from flint.errors import TooManyRequests
from flint.kit.time import utcnow
from tests.auth.helpers import V1, bearer, login, me, refresh, reset_token, user_row
from tests.auth.helpers_two_factor import (
    TWO_FA,
    Clock,
    challenge,
    read_qr,
    set_up,
    status,
    turn_on,
    verify,
)
from tests.conftest import Account, assert_problem, error_fields

INVALID_CHALLENGE = "The sign-in challenge is invalid, expired or already used; sign in again."
WRONG_CODE = "The code is incorrect."


async def test_the_authenticator_flow_from_setup_to_signed_in(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Setup: the phone scans the QR code, which holds the URI setup answered.
    setup = (await client.post(f"{TWO_FA}/setup", headers=alice.headers)).json()
    qr = await client.get(f"{TWO_FA}/qr.svg", headers=alice.headers)
    assert read_qr(qr.text) == setup["otpauthUri"]
    phone = pyotp.parse_uri(read_qr(qr.text))
    assert isinstance(phone, pyotp.TOTP)

    # Enable with the code the app shows now, on the real clock.
    enabled = await client.post(
        f"{TWO_FA}/enable", json={"code": phone.now()}, headers=alice.headers
    )
    assert enabled.status_code == 200, enabled.text
    recovery_codes = enabled.json()["recoveryCodes"]
    last_login = (await user_row(sessions, alice.email)).last_login

    # Signing in: the password alone earns no token, only the challenge.
    password_step = await login(client, alice.email, alice.password)
    assert password_step.status_code == 200, password_step.text
    answer = password_step.json()
    assert set(answer) == {"mfaRequired", "mfaToken", "expiresIn"}
    assert answer["mfaRequired"] is True
    assert answer["expiresIn"] == 300
    assert (await user_row(sessions, alice.email)).last_login == last_login

    # Half a minute later the app shows the next code (the enabling one is spent).
    later = time.time() + 30
    config = app.state.runtime.get(TwoFactorConfig)
    monkeypatch.setattr(config, "clock", lambda: utcnow() + timedelta(seconds=30))
    verified = await verify(client, answer["mfaToken"], code=phone.at(later))

    assert verified.status_code == 200, verified.text
    assert verified.headers["cache-control"] == "no-store"
    pair = verified.json()
    assert set(pair) == {"token", "expiresIn", "refreshToken", "tokenType"}
    assert pair["tokenType"] == "bearer"
    assert (await me(client, pair["token"])).json()["userId"] == alice.user_id
    assert await status(client, pair["token"]) == {"enabled": True, "recoveryCodesLeft": 10}
    assert len(recovery_codes) == 10
    renewed = await refresh(client, pair["refreshToken"])
    assert renewed.status_code == 200, renewed.text
    assert (await user_row(sessions, alice.email)).last_login != last_login


async def test_the_oauth2_form_answers_the_challenge_instead_of_tokens(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    form = {"username": alice.email, "password": alice.password}

    response = await client.post(f"{V1}/token", data=form)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"mfaRequired", "mfaToken", "expiresIn"}
    clock.advance()
    verified = await verify(client, answer["mfaToken"], code=app.code(clock.now))
    assert verified.status_code == 200, verified.text


@pytest.mark.parametrize("steps", [-1, 0, 1])
async def test_codes_of_the_current_step_and_one_either_side_are_accepted(
    client: httpx.AsyncClient, alice: Account, clock: Clock, steps: int
) -> None:
    app = await turn_on(client, alice, clock)
    clock.advance(5)
    mfa_token = await challenge(client, alice)

    response = await verify(client, mfa_token, code=app.code(clock.now, steps=steps))

    assert response.status_code == 200, response.text
    assert (await me(client, response.json()["token"])).status_code == 200


@pytest.mark.parametrize("steps", [-2, 2])
async def test_codes_two_steps_away_are_refused(
    client: httpx.AsyncClient, alice: Account, clock: Clock, steps: int
) -> None:
    app = await turn_on(client, alice, clock)
    clock.advance(5)
    mfa_token = await challenge(client, alice)

    response = await verify(client, mfa_token, code=app.code(clock.now, steps=steps))

    assert assert_problem(response, 401)["detail"] == WRONG_CODE
    assert "token" not in response.json()
    # The challenge still stands: the right code opens it.
    assert (await verify(client, mfa_token, code=app.code(clock.now))).status_code == 200


async def test_a_code_works_once_and_older_steps_are_refused_after_it(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    clock.advance(5)
    first = await verify(client, await challenge(client, alice), code=app.code(clock.now))
    assert first.status_code == 200, first.text

    mfa_token = await challenge(client, alice)
    replayed = await verify(client, mfa_token, code=app.code(clock.now))
    older = await verify(client, mfa_token, code=app.code(clock.now, steps=-1))
    newer = await verify(client, mfa_token, code=app.code(clock.now, steps=1))

    assert assert_problem(replayed, 401)["detail"] == WRONG_CODE
    assert assert_problem(older, 401)["detail"] == WRONG_CODE
    assert newer.status_code == 200, newer.text


async def test_the_code_that_enabled_2fa_cannot_sign_in(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)

    response = await verify(client, await challenge(client, alice), code=app.code(clock.now))

    assert assert_problem(response, 401)["detail"] == WRONG_CODE


async def test_two_sign_ins_racing_with_one_code_let_only_one_in(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    clock.advance()
    tokens = [await challenge(client, alice) for _ in range(2)]
    code = app.code(clock.now)

    answers = await asyncio.gather(*(verify(client, token, code=code) for token in tokens))

    assert sorted(answer.status_code for answer in answers) == [200, 401]


async def test_recovery_codes_sign_in_once_each(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    first, second = app.recovery_codes[:2]

    used = await verify(client, await challenge(client, alice), recovery_code=first)
    assert used.status_code == 200, used.text
    again = await verify(client, await challenge(client, alice), recovery_code=first)
    assert assert_problem(again, 401)["detail"] == WRONG_CODE
    # Typed as people type: upper case, without the dash, spaced.
    typed = f"{second[:5].upper()} {second[6:].upper()}"
    other = await verify(client, await challenge(client, alice), recovery_code=typed)
    assert other.status_code == 200, other.text

    assert await status(client, other.json()["token"]) == {
        "enabled": True,
        "recoveryCodesLeft": 8,
    }


async def test_a_recovery_code_sent_as_the_code_signs_in_once(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    """The one field people paste into: the other confirmations take a recovery code as
    `code`, and so does the sign-in (it was 422, "should match pattern '^[0-9]{6}$'")."""
    app = await turn_on(client, alice, clock)
    first = app.recovery_codes[0]

    used = await verify(client, await challenge(client, alice), code=first.upper())
    assert used.status_code == 200, used.text
    again = await verify(client, await challenge(client, alice), code=first)
    assert assert_problem(again, 401)["detail"] == WRONG_CODE
    also = await verify(client, await challenge(client, alice), recovery_code=first)
    assert assert_problem(also, 401)["detail"] == WRONG_CODE

    assert await status(client, used.json()["token"]) == {
        "enabled": True,
        "recoveryCodesLeft": 9,
    }


async def test_five_wrong_codes_for_one_mfa_token_answer_429_with_retry_after(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    clock.advance()
    mfa_token = await challenge(client, alice)
    for _ in range(5):
        assert_problem(await verify(client, mfa_token, code="000000"), 401)

    response = await verify(client, mfa_token, code=app.code(clock.now))

    problem = assert_problem(response, 429)
    assert problem["type"] == "/problems/rate-limited"
    assert 0 < int(response.headers["retry-after"]) <= 15 * 60
    assert "token" not in problem


async def test_five_wrong_codes_across_sign_ins_lock_the_account_not_others(
    client: httpx.AsyncClient, alice: Account, bob: Account, clock: Clock
) -> None:
    alices = await turn_on(client, alice, clock)
    bobs = await turn_on(client, bob, clock)
    clock.advance()
    for wrong in (3, 2):  # no single mfaToken reaches five
        mfa_token = await challenge(client, alice)
        for _ in range(wrong):
            assert_problem(await verify(client, mfa_token, recovery_code="aaaaa-aaaaa"), 401)

    fresh = await challenge(client, alice)
    locked = await verify(client, fresh, code=alices.code(clock.now))
    bobs_answer = await verify(client, await challenge(client, bob), code=bobs.code(clock.now))

    assert_problem(locked, 429)
    assert int(locked.headers["retry-after"]) > 0
    assert bobs_answer.status_code == 200, bobs_answer.text


async def test_a_wrong_code_budget_is_kept_per_mfa_token_as_well_as_per_user() -> None:
    budget = FailureBudget(MemoryStorage(), window_minutes=15)
    user, other_user, token = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for _ in range(5):
        await budget.record_failure(user, token)

    with pytest.raises(TooManyRequests):
        await budget.check(other_user, token)  # the token's own budget is spent
    with pytest.raises(TooManyRequests):
        await budget.check(user, uuid.uuid4())  # and so is the user's
    await budget.check(other_user, uuid.uuid4())


async def test_an_expired_mfa_token_is_refused(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    clock: Clock,
) -> None:
    app = await turn_on(client, alice, clock)
    mfa_token = await challenge(client, alice)
    async with sessions.begin() as session:
        await session.execute(
            update(TwoFactorChallenge).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    clock.advance()

    response = await verify(client, mfa_token, code=app.code(clock.now))

    assert assert_problem(response, 401)["detail"] == INVALID_CHALLENGE


async def test_the_mfa_token_lives_five_minutes(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    clock: Clock,
) -> None:
    await turn_on(client, alice, clock)

    await challenge(client, alice)

    async with sessions() as session:
        row = (await session.execute(select(TwoFactorChallenge))).scalar_one()
    assert timedelta(minutes=4, seconds=58) < row.expires_at - utcnow() <= timedelta(minutes=5)
    assert len(row.token_hash) == 64


async def test_a_used_mfa_token_is_refused(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    clock.advance()
    mfa_token = await challenge(client, alice)
    assert (await verify(client, mfa_token, code=app.code(clock.now))).status_code == 200
    clock.advance()

    reused = await verify(client, mfa_token, code=app.code(clock.now))

    assert assert_problem(reused, 401)["detail"] == INVALID_CHALLENGE


async def test_an_unknown_mfa_token_is_refused(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    clock.advance()

    response = await verify(client, "not-a-challenge", code=app.code(clock.now))

    assert assert_problem(response, 401)["detail"] == INVALID_CHALLENGE


async def test_the_mfa_token_is_not_an_access_or_refresh_token(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    await turn_on(client, alice, clock)
    mfa_token = await challenge(client, alice)

    for path in (f"{V1}/me", "/api/v1/users/me", TWO_FA, "/api/v1/notifications"):
        response = await client.get(path, headers=bearer(mfa_token))
        assert assert_problem(response, 401)["type"] == "/problems/unauthorized", path
    assert_problem(await refresh(client, mfa_token), 401)


async def test_turning_2fa_off_voids_the_challenges_already_given(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    mfa_token = await challenge(client, alice)
    clock.advance()
    off = await client.post(
        f"{TWO_FA}/disable",
        json={"password": alice.password, "code": app.recovery_codes[0]},
        headers=alice.headers,
    )
    assert off.status_code == 200, off.text

    response = await verify(client, mfa_token, code=app.code(clock.now))

    assert assert_problem(response, 401)["detail"] == INVALID_CHALLENGE


async def test_a_pending_setup_does_not_change_how_the_user_signs_in(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await set_up(client, alice)

    response = await login(client, alice.email, alice.password)

    assert set(response.json()) == {"token", "expiresIn", "refreshToken", "tokenType"}


async def test_a_password_reset_leaves_2fa_on(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, clock: Clock
) -> None:
    authenticator = await turn_on(client, alice, clock)
    token = await reset_token(client, app, alice.email)
    new_password = "A-brand-new-passphrase-42"
    body = {"token": token, "newPassword": new_password}
    assert (await client.post(f"{V1}/reset-password/confirm", json=body)).status_code == 200

    answer = (await login(client, alice.email, new_password)).json()

    assert set(answer) == {"mfaRequired", "mfaToken", "expiresIn"}
    clock.advance()
    code = authenticator.code(clock.now)
    assert (await verify(client, answer["mfaToken"], code=code)).status_code == 200


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"body.mfaToken"}),
        ({"mfaToken": "x"}, {"body"}),
        ({"mfaToken": "x", "code": "123456", "recoveryCode": "abcde-fghjk"}, {"body"}),
        ({"mfaToken": "", "code": "123456"}, {"body.mfaToken"}),
        ({"mfaToken": "x", "code": "12345"}, {"body.code"}),
        ({"mfaToken": "x", "recoveryCode": "abc"}, {"body.recoveryCode"}),
        ({"mfaToken": "x", "code": "123456", "token": "y"}, {"body.token"}),
    ],
)
async def test_bad_input_to_verify_is_a_problem_and_spends_nothing(
    client: httpx.AsyncClient,
    alice: Account,
    clock: Clock,
    body: dict[str, object],
    fields: set[str],
) -> None:
    app = await turn_on(client, alice, clock)
    mfa_token = await challenge(client, alice)

    response = await client.post(f"{TWO_FA}/verify", json=body)

    assert error_fields(assert_problem(response, 422)) == fields
    clock.advance()
    assert (await verify(client, mfa_token, code=app.code(clock.now))).status_code == 200
