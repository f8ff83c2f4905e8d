"""Ending a sign-in ends its access tokens at once, not when they expire: signing out, and a
replayed refresh token (the sign-in is presumed stolen). The user's other sign-ins go on."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.auth.models import RefreshToken
from flint.kit.secrets import token_digest
from flint.kit.time import utcnow
from tests.auth.helpers import V1, bearer, login, me, refresh, segments
from tests.conftest import Account, assert_problem, service_url, sign_up

QUOTE = "/api/v1/market/real-time/AAPL"


async def logout(client: httpx.AsyncClient, access: str, refresh_token: str) -> httpx.Response:
    return await client.post(
        f"{V1}/logout", json={"refreshToken": refresh_token}, headers=bearer(access)
    )


async def assert_signed_in(client: httpx.AsyncClient, access: str, user_id: str) -> None:
    profile = await me(client, access)
    assert profile.status_code == 200, profile.text
    assert profile.json()["userId"] == user_id
    quote = await client.get(QUOTE, headers=bearer(access))  # the cached sign-in state's path
    assert quote.status_code == 200, quote.text
    assert quote.json()["symbol"] == "AAPL"


async def assert_signed_out(client: httpx.AsyncClient, access: str) -> None:
    for response in (await me(client, access), await client.get(QUOTE, headers=bearer(access))):
        problem = assert_problem(response, 401)
        assert problem["detail"] == "The access token is invalid or has expired."
        assert response.headers["www-authenticate"] == "Bearer"


async def test_access_tokens_name_the_sign_in_they_belong_to(
    client: httpx.AsyncClient, alice: Account
) -> None:
    rotated = (await refresh(client, alice.refresh_token)).json()
    other = (await login(client, alice.email, alice.password)).json()

    first, second, third = (
        segments(token)[1] for token in (alice.token, rotated["token"], other["token"])
    )
    assert first["fam"] == second["fam"]  # a refresh stays in its sign-in
    assert third["fam"] != first["fam"]
    assert uuid.UUID(hex=first["fam"])


async def test_logout_ends_the_access_tokens_of_that_sign_in_at_once(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await assert_signed_in(client, alice.token, alice.user_id)  # its state is now cached
    rotated = (await refresh(client, alice.refresh_token)).json()

    response = await logout(client, rotated["token"], rotated["refreshToken"])

    assert response.status_code == 204, response.text
    await assert_signed_out(client, rotated["token"])
    await assert_signed_out(client, alice.token)  # the sign-in's older access token too


async def test_logout_leaves_the_users_other_sign_ins_and_other_users_signed_in(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    phone = (await login(client, alice.email, alice.password)).json()
    await assert_signed_in(client, phone["token"], alice.user_id)

    # Signing out on the laptop, with the phone's access token as the bearer even.
    assert (await logout(client, phone["token"], alice.refresh_token)).status_code == 204

    await assert_signed_out(client, alice.token)
    await assert_signed_in(client, phone["token"], alice.user_id)
    await assert_signed_in(client, bob.token, bob.user_id)
    assert (await refresh(client, phone["refreshToken"])).status_code == 200


async def test_a_replayed_refresh_token_ends_the_access_tokens_of_its_sign_in(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    phone = (await login(client, alice.email, alice.password)).json()
    rotated = (await refresh(client, alice.refresh_token)).json()
    await assert_signed_in(client, rotated["token"], alice.user_id)
    async with sessions.begin() as session:  # rotated a minute ago: long past any grace
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == token_digest(alice.refresh_token))
            .values(used_at=utcnow() - timedelta(minutes=1))
        )

    assert_problem(await refresh(client, alice.refresh_token), 401)  # presumed stolen

    await assert_signed_out(client, rotated["token"])
    await assert_signed_out(client, alice.token)
    await assert_signed_in(client, phone["token"], alice.user_id)


class TestAcrossProcesses:
    """Two API processes sharing the database and Redis: a sign-out in one ends the sign-in's
    access tokens in the other at once, although the other had its state cached."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"redis_url": service_url("FLINT_TEST_REDIS_URL", "Redis")}

    @pytest.fixture
    def other(self, other_process: httpx.AsyncClient) -> httpx.AsyncClient:
        return other_process

    async def test_a_sign_out_in_one_process_is_refused_in_another_at_once(
        self, client: httpx.AsyncClient, other: httpx.AsyncClient
    ) -> None:
        account = await sign_up(client)
        await assert_signed_in(other, account.token, account.user_id)

        assert (await logout(client, account.token, account.refresh_token)).status_code == 204

        await assert_signed_out(other, account.token)


async def test_signing_out_everywhere_ends_every_sign_in_and_keeps_the_keys(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    laptop = (await login(client, alice.email, alice.password)).json()
    made = await client.post(
        "/api/v1/api-keys", json={"name": "script", "scopes": ["read"]}, headers=alice.headers
    )
    key = made.json()["key"]

    done = await client.post(f"{V1}/logout-all", headers=bearer(laptop["token"]))

    assert done.status_code == 204, done.text
    for access in (alice.token, laptop["token"]):
        await assert_signed_out(client, access)
    for spent in (alice.refresh_token, laptop["refreshToken"]):
        assert_problem(await refresh(client, spent), 401)
    assert (await client.get(QUOTE, headers={"X-API-Key": key})).status_code == 200
    await assert_signed_in(client, bob.token, bob.user_id)  # nobody else's
    again = (await login(client, alice.email, alice.password)).json()
    await assert_signed_in(client, again["token"], alice.user_id)
    keyed = await client.post(f"{V1}/logout-all", headers={"X-API-Key": key})
    assert "`session`" in assert_problem(keyed, 403)["detail"]
