"""Setting up, turning on and turning off two-factor sign-in, and what is stored meanwhile."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.auth.models import RecoveryCode, TwoFactor, TwoFactorChallenge
from flint.kit.crypto import CredentialBox
from tests.auth.helpers import bearer, login
from tests.auth.helpers_two_factor import (
    TWO_FA,
    Clock,
    challenge,
    disable,
    enable,
    read_qr,
    set_up,
    status,
    turn_on,
)
from tests.conftest import Account, assert_problem, error_fields


async def _stored(sessions: async_sessionmaker[AsyncSession], user_id: str) -> TwoFactor | None:
    async with sessions() as session:
        return await session.get(TwoFactor, uuid.UUID(user_id))


async def _count(sessions: async_sessionmaker[AsyncSession], table: Any, user_id: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(table).where(table.user_id == uuid.UUID(user_id))
        return int((await session.execute(stmt)).scalar_one())


async def test_setup_answers_a_secret_and_its_uri_sealed_at_rest_and_leaves_2fa_off(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    response = await client.post(f"{TWO_FA}/setup", headers=alice.headers)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    answer = response.json()
    assert set(answer) == {"secret", "otpauthUri"}
    assert len(answer["secret"]) == 32  # 160 bits, base32
    parsed = pyotp.parse_uri(answer["otpauthUri"])
    assert isinstance(parsed, pyotp.TOTP)
    assert (parsed.secret, parsed.name, parsed.issuer) == (answer["secret"], alice.email, "Flint")
    assert (parsed.digits, parsed.interval) == (6, 30)

    stored = await _stored(sessions, alice.user_id)
    assert stored is not None
    assert stored.enabled_at is None
    assert answer["secret"] not in stored.sealed_secret
    box = app.state.runtime.get(CredentialBox)
    assert box.open(stored.sealed_secret) == {"totp": answer["secret"]}
    assert await status(client, alice.token) == {"enabled": False, "recoveryCodesLeft": 0}
    signed_in = await login(client, alice.email, alice.password)
    assert set(signed_in.json()) == {"token", "expiresIn", "refreshToken", "tokenType"}


async def test_the_qr_code_is_an_svg_of_the_otpauth_uri(
    client: httpx.AsyncClient, alice: Account
) -> None:
    setup = await client.post(f"{TWO_FA}/setup", headers=alice.headers)

    response = await client.get(f"{TWO_FA}/qr.svg", headers=alice.headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "no-store"
    assert response.text.lstrip().startswith("<?xml")
    assert "<svg" in response.text
    assert read_qr(response.text) == setup.json()["otpauthUri"]


async def test_the_qr_code_shows_only_a_secret_waiting_to_be_enabled(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    before = await client.get(f"{TWO_FA}/qr.svg", headers=alice.headers)
    await turn_on(client, alice, clock)
    after = await client.get(f"{TWO_FA}/qr.svg", headers=alice.headers)

    for response in (before, after):
        assert assert_problem(response, 404)["type"] == "/problems/not-found"


async def test_setting_up_again_replaces_the_secret_waiting_to_be_enabled(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    first = await set_up(client, alice)
    second = await set_up(client, alice)
    assert first.secret != second.secret

    stale = await enable(client, alice, first.code(clock.now))
    assert error_fields(assert_problem(stale, 422)) == {"body.code"}
    fresh = await enable(client, alice, second.code(clock.now))
    assert fresh.status_code == 200, fresh.text


async def test_enable_answers_ten_single_use_recovery_codes_kept_only_as_keyed_digests(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    clock: Clock,
) -> None:
    app = await set_up(client, alice)

    response = await enable(client, alice, app.code(clock.now))

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    codes = response.json()["recoveryCodes"]
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert len(code) == 11
        assert code[5] == "-"
    assert await status(client, alice.token) == {"enabled": True, "recoveryCodesLeft": 10}
    async with sessions() as session:
        digests = set((await session.execute(select(RecoveryCode.code_hash))).scalars())
    assert len(digests) == 10
    for code in codes:
        plain = code.replace("-", "")
        assert not {code, plain, hashlib.sha256(plain.encode()).hexdigest()} & digests
    stored = await _stored(sessions, alice.user_id)
    assert stored is not None
    assert stored.enabled_at is not None


async def test_turning_2fa_on_and_off_is_told_to_the_user_as_a_security_notice(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    clock.advance()
    off = await disable(client, alice, password=alice.password, code=app.code(clock.now))
    assert off.status_code == 200, off.text

    page = await client.get("/api/v1/notifications", headers=alice.headers)
    notices = [(n["kind"], n["title"], n["data"]) for n in page.json()["notifications"]]
    assert notices == [
        ("security", "Two-factor sign-in is off", {"event": "two_factor_disabled"}),
        ("security", "Two-factor sign-in is on", {"event": "two_factor_enabled"}),
    ]


async def test_a_wrong_code_does_not_turn_2fa_on(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    clock: Clock,
) -> None:
    app = await set_up(client, alice)

    response = await enable(client, alice, app.code(clock.now, steps=2))

    problem = assert_problem(response, 422)
    assert error_fields(problem) == {"body.code"}
    assert await status(client, alice.token) == {"enabled": False, "recoveryCodesLeft": 0}
    assert await _count(sessions, RecoveryCode, alice.user_id) == 0
    signed_in = await login(client, alice.email, alice.password)
    assert "token" in signed_in.json()


async def test_enable_without_a_setup_or_a_second_time_is_a_conflict(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    assert_problem(await enable(client, alice, "123456"), 409)
    app = await turn_on(client, alice, clock)
    clock.advance()

    again = await enable(client, alice, app.code(clock.now))

    assert_problem(again, 409)
    assert await status(client, alice.token) == {"enabled": True, "recoveryCodesLeft": 10}


async def test_setup_while_2fa_is_on_is_a_conflict_and_keeps_the_secret(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)

    assert_problem(await client.post(f"{TWO_FA}/setup", headers=alice.headers), 409)

    clock.advance()
    mfa_token = await challenge(client, alice)
    verified = await client.post(
        f"{TWO_FA}/verify", json={"mfaToken": mfa_token, "code": app.code(clock.now)}
    )
    assert verified.status_code == 200, verified.text


async def test_disable_takes_the_password_and_a_code_and_forgets_everything(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    clock: Clock,
) -> None:
    app = await turn_on(client, alice, clock)
    await challenge(client, alice)
    clock.advance()
    code = app.code(clock.now)

    wrong_password = await disable(client, alice, password=alice.password + "x", code=code)
    wrong_code = await disable(client, alice, password=alice.password, code="000000")
    assert (
        assert_problem(wrong_password, 403)["detail"] == assert_problem(wrong_code, 403)["detail"]
    )
    assert await status(client, alice.token) == {"enabled": True, "recoveryCodesLeft": 10}

    response = await disable(client, alice, password=alice.password, code=code)

    assert response.status_code == 200, response.text
    assert response.json() == {"enabled": False, "recoveryCodesLeft": 0}
    assert await _stored(sessions, alice.user_id) is None
    assert await _count(sessions, RecoveryCode, alice.user_id) == 0
    assert await _count(sessions, TwoFactorChallenge, alice.user_id) == 0
    signed_in = await login(client, alice.email, alice.password)
    assert set(signed_in.json()) == {"token", "expiresIn", "refreshToken", "tokenType"}


async def test_disable_accepts_a_recovery_code_in_place_of_a_code(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)

    response = await disable(
        client, alice, password=alice.password, code=app.recovery_codes[3].upper()
    )

    assert response.status_code == 200, response.text
    assert await status(client, alice.token) == {"enabled": False, "recoveryCodesLeft": 0}


async def test_disable_when_2fa_is_off_is_a_conflict(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await set_up(client, alice)  # pending, not on

    assert_problem(await disable(client, alice, password=alice.password, code="123456"), 409)


async def test_five_wrong_answers_to_disable_are_throttled_with_retry_after(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    clock.advance()
    for _ in range(5):
        refused = await disable(client, alice, password="Not-the-right-passw0rd", code="000000")
        assert_problem(refused, 403)

    throttled = await disable(client, alice, password=alice.password, code=app.code(clock.now))

    assert_problem(throttled, 429)
    assert 0 < int(throttled.headers["retry-after"]) <= 15 * 60
    assert await status(client, alice.token) == {"enabled": True, "recoveryCodesLeft": 10}


async def test_another_users_two_factor_state_is_untouched(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    bob: Account,
    clock: Clock,
) -> None:
    alices = await turn_on(client, alice, clock)
    bobs = await set_up(client, bob)

    assert await status(client, bob.token) == {"enabled": False, "recoveryCodesLeft": 0}
    assert set((await login(client, bob.email, bob.password)).json()) >= {"token"}
    # Alice's recovery code and current code are nothing to Bob's account.
    assert_problem(await enable(client, bob, alices.code(clock.now, steps=1)), 422)
    assert_problem(
        await disable(client, bob, password=bob.password, code=alices.recovery_codes[0]), 409
    )
    bob_qr = await client.get(f"{TWO_FA}/qr.svg", headers=bob.headers)
    assert bobs.secret in read_qr(bob_qr.text)
    assert alices.secret not in read_qr(bob_qr.text)
    assert await status(client, alice.token) == {"enabled": True, "recoveryCodesLeft": 10}
    stored = await _stored(sessions, alice.user_id)
    assert stored is not None
    assert stored.enabled_at is not None


@pytest.mark.parametrize(
    ("route", "body", "fields"),
    [
        ("enable", {}, {"body.code"}),
        ("enable", {"code": "12345"}, {"body.code"}),
        ("enable", {"code": "1234567"}, {"body.code"}),
        ("enable", {"code": 123456}, {"body.code"}),
        ("enable", {"code": "12a456"}, {"body.code"}),
        ("enable", {"code": "123456", "remember": True}, {"body.remember"}),
        ("disable", {"code": "123456"}, {"body.password"}),
        ("disable", {"password": "x"}, {"body.code"}),
        ("disable", {"password": "x", "code": "abc"}, {"body.code"}),
        ("disable", {"password": "x", "code": "abcde-fghjk-lmn"}, {"body.code"}),
    ],
)
async def test_bad_input_to_enable_and_disable_is_a_problem_and_changes_nothing(
    client: httpx.AsyncClient,
    alice: Account,
    clock: Clock,
    route: str,
    body: dict[str, object],
    fields: set[str],
) -> None:
    if route == "disable":
        await turn_on(client, alice, clock)
    else:
        await set_up(client, alice)
    before = await status(client, alice.token)

    response = await client.post(f"{TWO_FA}/{route}", json=body, headers=alice.headers)

    assert error_fields(assert_problem(response, 422)) == fields
    assert await status(client, alice.token) == before


@pytest.mark.parametrize(
    ("route", "body", "says"),
    [
        ("enable", {"code": "12345"}, "must be the six digits the authenticator app shows"),
        (
            "disable",
            {"password": "x", "code": "abc"},
            "six digits the authenticator app shows or a recovery code",
        ),
        ("verify", {"mfaToken": "x", "recoveryCode": "12345"}, "must be a recovery code (ten "),
    ],
)
async def test_a_code_of_the_wrong_shape_is_refused_in_words_not_by_its_expression(
    client: httpx.AsyncClient,
    alice: Account,
    clock: Clock,
    route: str,
    body: dict[str, object],
    says: str,
) -> None:
    """It said "String should match pattern '^[0-9]{6}$'", and the documents' own expression
    is another (it takes spaces)."""
    await turn_on(client, alice, clock)

    response = await client.post(f"{TWO_FA}/{route}", json=body, headers=alice.headers)

    (error,) = assert_problem(response, 422)["errors"]
    assert says in error["message"]
    assert "pattern" not in error["message"]


async def test_the_two_factor_routes_need_a_signed_in_caller(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for method, path in [
        ("GET", TWO_FA),
        ("POST", f"{TWO_FA}/setup"),
        ("GET", f"{TWO_FA}/qr.svg"),
        ("POST", f"{TWO_FA}/enable"),
        ("POST", f"{TWO_FA}/disable"),
    ]:
        response = await client.request(method, path, headers=bearer("not-a-token"))
        assert assert_problem(response, 401)["type"] == "/problems/unauthorized", path
