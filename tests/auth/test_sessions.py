"""The account's signed-in devices (`GET /auth/sessions`) and signing one of them out
(`DELETE /auth/sessions/{sessionId}`): a lost phone ends without the password changing and
without the other devices signing in again. And what can no longer be used is pruned."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.app.worker import schedule
from flint.auth import sessions as sign_ins
from flint.auth.models import PasswordResetToken, RefreshToken, SignIn, TwoFactorChallenge
from flint.auth.tasks import PRUNE
from flint.config import Settings
from flint.jobs import celery_app
from flint.kit.secrets import new_token, token_digest
from flint.kit.time import utcnow
from tests.auth.helpers import V1, bearer, login, me, outbox, refresh
from tests.auth.helpers_two_factor import Clock, turn_on
from tests.auth.test_sign_out import assert_signed_in, assert_signed_out
from tests.conftest import Account, assert_problem, sign_up
from tests.users.keys_helpers import make_key

PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
LAPTOP = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


async def sign_in(client: httpx.AsyncClient, who: Account, agent: str) -> dict[str, Any]:
    body = {"email": who.email, "password": who.password}
    answer = await client.post(f"{V1}/login", json=body, headers={"User-Agent": agent})
    assert answer.status_code == 200, answer.text
    pair: dict[str, Any] = answer.json()
    return pair


async def listed(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await client.get(f"{V1}/sessions", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    found: list[dict[str, Any]] = answer.json()["sessions"]
    return found


def current(found: list[dict[str, Any]]) -> dict[str, Any]:
    (mine,) = [entry for entry in found if entry["current"]]
    return mine


async def test_each_device_is_listed_with_how_and_where_it_signed_in(
    client: httpx.AsyncClient,
) -> None:
    who = await sign_up(client)  # a first sign-in, by the test client
    laptop = await sign_in(client, who, LAPTOP)
    phone = await sign_in(client, who, PHONE)

    from_phone = await listed(client, phone["token"])
    from_laptop = await listed(client, laptop["token"])

    assert len(from_phone) == 3
    assert [entry["device"] for entry in from_phone][:2] == [PHONE, LAPTOP]  # newest use first
    assert current(from_phone)["device"] == PHONE
    assert current(from_laptop)["device"] == LAPTOP
    assert [entry["deviceName"] for entry in from_phone] == [
        "Mobile Safari 18 on iOS 18 (iPhone)",
        "Firefox 133 on Linux",
        None,  # the test client's python-httpx: no browser ua-parser knows
    ]
    assert current(from_phone)["sessionId"] != current(from_laptop)["sessionId"]
    for entry in from_phone:
        assert entry["method"] == "password"
        assert entry["ipAddress"] == "127.0.0.1"
        assert entry["signedInAt"] == entry["lastActiveAt"]
        assert entry["expiresAt"] > entry["lastActiveAt"]
    assert {e["sessionId"] for e in from_phone} == {e["sessionId"] for e in from_laptop}


async def test_a_refresh_keeps_its_session_and_marks_it_used(client: httpx.AsyncClient) -> None:
    who = await sign_up(client)
    laptop = await sign_in(client, who, LAPTOP)
    phone = await sign_in(client, who, PHONE)
    before = current(await listed(client, phone["token"]))

    rotated = await refresh(client, phone["refreshToken"])
    assert rotated.status_code == 200, rotated.text
    after = await listed(client, laptop["token"])

    assert len(after) == 3  # the spent refresh token is not another session
    again = next(entry for entry in after if entry["sessionId"] == before["sessionId"])
    assert after[0] == again  # the most recently used first
    assert again["lastActiveAt"] > before["lastActiveAt"]
    assert again["expiresAt"] > before["expiresAt"]
    assert again["signedInAt"] == before["signedInAt"]
    assert current(await listed(client, rotated.json()["token"]))["sessionId"] == again["sessionId"]


async def test_signing_a_lost_phone_out_from_the_laptop_ends_only_the_phone_at_once(
    client: httpx.AsyncClient,
) -> None:
    who = await sign_up(client)
    laptop = await sign_in(client, who, LAPTOP)
    phone = await sign_in(client, who, PHONE)
    await assert_signed_in(client, phone["token"], who.user_id)  # its sign-in state cached
    lost = current(await listed(client, phone["token"]))["sessionId"]

    ended = await client.delete(f"{V1}/sessions/{lost}", headers=bearer(laptop["token"]))

    assert ended.status_code == 204, ended.text
    await assert_signed_out(client, phone["token"])
    assert_problem(await refresh(client, phone["refreshToken"]), 401)
    await assert_signed_in(client, laptop["token"], who.user_id)
    await assert_signed_in(client, who.token, who.user_id)
    assert lost not in {entry["sessionId"] for entry in await listed(client, laptop["token"])}
    again = await client.delete(f"{V1}/sessions/{lost}", headers=bearer(laptop["token"]))
    assert assert_problem(again, 404)["detail"] == "No such signed-in session."


async def test_signing_every_other_device_out_keeps_this_one(client: httpx.AsyncClient) -> None:
    who = await sign_up(client)
    laptop = await sign_in(client, who, LAPTOP)
    phone = await sign_in(client, who, PHONE)
    await assert_signed_in(client, phone["token"], who.user_id)  # its sign-in state cached
    other = await sign_up(client)

    ended = await client.delete(f"{V1}/sessions", headers=bearer(laptop["token"]))

    assert ended.status_code == 204, ended.text
    for gone in (phone, {"token": who.token, "refreshToken": who.refresh_token}):
        await assert_signed_out(client, gone["token"])
        assert_problem(await refresh(client, gone["refreshToken"]), 401)
    (left,) = await listed(client, laptop["token"])
    assert (left["device"], left["current"]) == (LAPTOP, True)
    rotated = await refresh(client, laptop["refreshToken"])  # this one goes on
    assert rotated.status_code == 200, rotated.text
    await assert_signed_in(client, other.token, other.user_id)  # nobody else's
    again = await client.delete(f"{V1}/sessions", headers=bearer(rotated.json()["token"]))
    assert again.status_code == 204, again.text
    assert len(await listed(client, rotated.json()["token"])) == 1


async def test_ending_the_session_that_asks_signs_this_device_out(
    client: httpx.AsyncClient,
) -> None:
    who = await sign_up(client)
    phone = await sign_in(client, who, PHONE)
    mine = current(await listed(client, phone["token"]))["sessionId"]

    ended = await client.delete(f"{V1}/sessions/{mine}", headers=bearer(phone["token"]))

    assert ended.status_code == 204, ended.text
    await assert_signed_out(client, phone["token"])
    await assert_signed_in(client, who.token, who.user_id)


async def test_another_users_session_is_unknown_and_goes_on(client: httpx.AsyncClient) -> None:
    alice, bob = await sign_up(client), await sign_up(client)
    hers = current(await listed(client, alice.token))["sessionId"]

    for session_id in (hers, str(uuid.uuid4())):
        answer = await client.delete(f"{V1}/sessions/{session_id}", headers=bob.headers)
        assert assert_problem(answer, 404)["detail"] == "No such signed-in session."
    await assert_signed_in(client, alice.token, alice.user_id)
    assert [entry["sessionId"] for entry in await listed(client, bob.token)] != [hers]
    assert hers not in str(await listed(client, bob.token))
    bad = await client.delete(f"{V1}/sessions/not-an-id", headers=bob.headers)
    assert assert_problem(bad, 422)["errors"][0]["field"] == "path.sessionId"


async def test_an_api_key_can_neither_list_nor_end_sessions(client: httpx.AsyncClient) -> None:
    who = await sign_up(client)
    key = (await make_key(client, who, "read", "write", "trade"))["key"]
    mine = current(await listed(client, who.token))["sessionId"]

    calls = (("GET", f"{V1}/sessions"), ("DELETE", f"{V1}/sessions/{mine}"))
    for method, path in (*calls, ("DELETE", f"{V1}/sessions")):
        answer = await client.request(method, path, headers={"X-API-Key": key})
        assert_problem(answer, 403)
    await assert_signed_in(client, who.token, who.user_id)


async def test_signed_out_sessions_leave_the_list_and_a_new_password_leaves_one(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    who = await sign_up(client)
    phone = await sign_in(client, who, PHONE)
    out = await client.post(
        f"{V1}/logout", json={"refreshToken": phone["refreshToken"]}, headers=bearer(phone["token"])
    )
    assert out.status_code == 204, out.text
    assert len(await listed(client, who.token)) == 1

    authenticator = await turn_on(client, who, clock)
    challenge = (await login(client, who.email, who.password)).json()
    verified = await client.post(
        f"{V1}/2fa/verify",
        json={"mfaToken": challenge["mfaToken"], "code": authenticator.code(clock.now, steps=1)},
        headers={"User-Agent": PHONE},
    )
    assert verified.status_code == 200, verified.text
    second = current(await listed(client, verified.json()["token"]))
    assert (second["method"], second["device"]) == ("two_factor", PHONE)

    changed = await client.post(
        f"{V1}/change-password",
        json={
            "currentPassword": who.password,
            "newPassword": "a brand new passphrase",
            "code": authenticator.recovery_codes[0],
        },
        headers={**bearer(verified.json()["token"]), "User-Agent": LAPTOP},
    )
    assert changed.status_code == 200, changed.text
    (only,) = await listed(client, changed.json()["token"])
    assert (only["method"], only["device"], only["current"]) == ("password_change", LAPTOP, True)


async def test_a_user_agent_is_kept_on_one_line_and_cut_to_256_characters(
    client: httpx.AsyncClient,
) -> None:
    who = await sign_up(client)
    phone = await sign_in(client, who, "Flint\tApp \x7f " + "x" * 1000)
    bare = await client.post(
        f"{V1}/login",
        json={"email": who.email, "password": who.password},
        headers={"User-Agent": ""},
    )

    assert (
        current(await listed(client, phone["token"]))["device"] == ("Flint App " + "x" * 1000)[:256]
    )
    assert current(await listed(client, bare.json()["token"]))["device"] is None


async def test_what_can_no_longer_be_used_is_pruned_and_the_rest_kept(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    who = await sign_up(client)
    user_id = uuid.UUID(who.user_id)
    now = utcnow()
    long_ago, lately, later = (
        now - timedelta(days=3),
        now - timedelta(hours=1),
        now + timedelta(days=9),
    )
    old, fresh = uuid.uuid4(), uuid.uuid4()

    def token(family: uuid.UUID, expires: Any, **values: Any) -> RefreshToken:
        return RefreshToken(
            user_id=user_id,
            family_id=family,
            token_hash=token_digest(new_token()),
            created_at=long_ago,
            expires_at=expires,
            **values,
        )

    async with sessions.begin() as session:
        session.add(SignIn(id=old, user_id=user_id, created_at=long_ago, last_active_at=long_ago))
        session.add(SignIn(id=fresh, user_id=user_id, created_at=long_ago, last_active_at=lately))
        session.add_all(
            [
                token(old, long_ago, used_at=long_ago),  # expired: gone
                token(old, long_ago, revoked_at=long_ago),  # expired, ended long ago: gone
                token(fresh, lately, revoked_at=lately),  # ended lately: its access tokens
                token(fresh, later, used_at=lately),  # spent, not expired: a replay's proof
            ]
        )
        session.add(PasswordResetToken(user_id=user_id, token_hash="a" * 64, expires_at=long_ago))
        session.add(PasswordResetToken(user_id=user_id, token_hash="b" * 64, expires_at=later))
        session.add(TwoFactorChallenge(user_id=user_id, token_hash="c" * 64, expires_at=long_ago))

    async with sessions() as session:
        deleted = await sign_ins.prune(session)
        await session.commit()
        kept = {
            table.__tablename__: await session.scalar(select(func.count()).select_from(table))
            for table in (RefreshToken, SignIn, PasswordResetToken, TwoFactorChallenge)
        }
        families = set(await session.scalars(select(RefreshToken.family_id)))

    assert deleted == {
        "refresh_tokens": 2,
        "sign_ins": 1,
        "password_reset_tokens": 1,
        "two_factor_challenges": 1,
    }
    assert kept == {
        "refresh_tokens": 3,  # the sign-up's own, and the fresh sign-in's two
        "sign_ins": 2,
        "password_reset_tokens": 1,
        "two_factor_challenges": 0,
    }
    assert old not in families
    assert fresh in families
    assert len(await listed(client, who.token)) == 1  # the user's own sign-in goes on
    await assert_signed_in(client, who.token, who.user_id)
    assert schedule(settings)["auth-prune"]["task"] == PRUNE
    assert PRUNE in celery_app.tasks
    assert (await me(client, who.token)).status_code == 200


async def notices(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/notifications", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["notifications"]
    return [n for n in found if n["data"].get("event") == "new_sign_in"]


async def test_a_sign_in_from_a_device_the_account_never_used_is_told_by_email_and_in_the_app(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    who = await sign_up(client)  # the first sign-in, right after signing up: no news
    assert await notices(client, who.token) == []
    again = await login(client, who.email, who.password)  # the same client again: known
    assert again.status_code == 200, again.text
    assert await notices(client, who.token) == []

    phone = await sign_in(client, who, PHONE)
    await sign_in(client, who, PHONE)  # that phone again: known now

    (notice,) = await notices(client, who.token)
    assert notice["kind"] == "security"
    assert notice["title"] == "New sign-in to your Flint account"
    assert f'(Mobile Safari 18 on iOS 18 (iPhone); it calls itself "{PHONE}")' in notice["body"]
    assert "from 127.0.0.1" in notice["body"]
    mine = current(await listed(client, phone["token"]))["sessionId"]
    assert notice["data"]["sessionId"] == mine
    emails = [m for m in await outbox(sessions) if m.subject == notice["title"]]
    assert [(m.channel, m.recipient) for m in emails] == [("email", who.email)]

    changed = await client.post(
        f"{V1}/change-password",
        json={"currentPassword": who.password, "newPassword": "a brand new passphrase"},
        headers={**bearer(phone["token"]), "User-Agent": "Yet another browser/1.0"},
    )
    assert changed.status_code == 200, changed.text  # told of the change, not of a device
    assert len(await notices(client, changed.json()["token"])) == 1


async def test_an_updated_browser_is_the_same_device_and_another_browser_is_not(
    client: httpx.AsyncClient,
) -> None:
    who = await sign_up(client)
    laptop = await sign_in(client, who, LAPTOP)
    await sign_in(client, who, LAPTOP.replace("133.0", "134.0"))  # the browser updated itself
    assert len(await notices(client, laptop["token"])) == 1  # the laptop's first sign-in

    chrome = (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36"
    )
    await sign_in(client, who, chrome)
    await sign_in(client, who, "a script/1.0")
    await sign_in(client, who, "a script/1.1")  # not a browser: its whole string is the device

    told = await notices(client, laptop["token"])
    assert len(told) == 4
    assert "(Chrome 131 on Linux; it calls itself" in told[2]["body"]  # newest first
    assert '(it calls itself "a script/1.1")' in told[0]["body"]
