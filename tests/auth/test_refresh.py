"""Refresh-token rotation with reuse detection, sign-out, and keeping the two token kinds apart."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.auth.models import RefreshToken
from flint.kit.crypto import CredentialBox, CredentialsUnreadable
from flint.kit.secrets import token_digest
from flint.kit.time import utcnow
from tests.auth.helpers import UNVERSIONED, V1, bearer, login, me, refresh
from tests.conftest import Account, assert_problem, error_fields


async def stored_token(sessions: async_sessionmaker[AsyncSession], token: str) -> RefreshToken:
    async with sessions() as session:
        stmt = select(RefreshToken).where(RefreshToken.token_hash == token_digest(token))
        return (await session.execute(stmt)).scalar_one()


async def past_the_grace(sessions: async_sessionmaker[AsyncSession], token: str) -> None:
    """Make ``token``'s rotation a minute old: presenting it again is a replay, not a second
    tab refreshing at the same moment."""
    async with sessions.begin() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == token_digest(token))
            .values(used_at=utcnow() - timedelta(minutes=1))
        )


COLUMNS = [column.key for column in RefreshToken.__table__.columns]


def assert_refused(response: httpx.Response) -> None:
    problem = assert_problem(response, 401)
    assert problem["detail"] == "The refresh token is invalid, expired or already used."
    assert "token" not in problem


async def test_refresh_exchanges_a_refresh_token_for_a_new_pair(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await refresh(client, alice.refresh_token)

    assert response.status_code == 200, response.text
    pair = response.json()
    assert set(pair) == {"token", "expiresIn", "refreshToken", "tokenType"}
    assert pair["tokenType"] == "bearer"
    assert pair["expiresIn"] == 15 * 60
    assert pair["refreshToken"] != alice.refresh_token
    assert pair["token"] != alice.token
    assert (await me(client, pair["token"])).json()["userId"] == alice.user_id
    # The new refresh token is itself good for one more rotation.
    assert (await refresh(client, pair["refreshToken"])).status_code == 200


async def test_refresh_accepts_snake_case_and_the_unversioned_prefix(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        f"{UNVERSIONED}/refresh", json={"refresh_token": alice.refresh_token}
    )

    assert response.status_code == 200, response.text
    assert (await me(client, response.json()["token"])).status_code == 200


async def test_refresh_tokens_are_stored_only_as_digests_of_one_family_per_sign_in(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    second = (await refresh(client, alice.refresh_token)).json()["refreshToken"]

    first_row = await stored_token(sessions, alice.refresh_token)
    second_row = await stored_token(sessions, second)
    assert first_row.used_at is not None
    assert first_row.revoked_at is None
    assert second_row.family_id == first_row.family_id
    assert second_row.parent_id == first_row.id
    assert second_row.used_at is None
    assert timedelta(days=29) < second_row.expires_at - utcnow() <= timedelta(days=30)
    other = (await login(client, alice.email, alice.password)).json()["refreshToken"]
    assert (await stored_token(sessions, other)).family_id != first_row.family_id


async def test_a_refresh_token_works_only_once_past_the_grace(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    assert (await refresh(client, alice.refresh_token)).status_code == 200
    await past_the_grace(sessions, alice.refresh_token)

    assert_refused(await refresh(client, alice.refresh_token))


async def test_presented_again_within_the_grace_a_refresh_token_gets_the_same_pair(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    first = (await refresh(client, alice.refresh_token)).json()

    again = await refresh(client, alice.refresh_token)

    assert again.status_code == 200, again.text
    pair = again.json()
    assert (pair["token"], pair["refreshToken"]) == (first["token"], first["refreshToken"])
    assert 15 * 60 - 5 <= pair["expiresIn"] <= 15 * 60  # the same access token, as old as it is
    assert (await me(client, pair["token"])).json()["userId"] == alice.user_id
    assert (await refresh(client, pair["refreshToken"])).status_code == 200
    assert (await stored_token(sessions, alice.refresh_token)).revoked_at is None


async def test_within_the_grace_an_ended_sign_in_stays_ended(
    client: httpx.AsyncClient, alice: Account
) -> None:
    rotated = (await refresh(client, alice.refresh_token)).json()
    signed_out = await client.post(
        f"{V1}/logout", json={"refreshToken": rotated["refreshToken"]}, headers=alice.headers
    )
    assert signed_out.status_code == 204, signed_out.text

    assert_refused(await refresh(client, alice.refresh_token))


async def test_the_database_keeps_no_usable_token_of_a_rotation(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    pair = (await refresh(client, alice.refresh_token)).json()

    async with sessions() as session:
        rows = (await session.execute(select(RefreshToken))).scalars().all()
    stored = " ".join(str(getattr(row, column)) for row in rows for column in COLUMNS)
    for token in (alice.refresh_token, pair["refreshToken"], pair["token"]):
        assert token not in stored
    spent = await stored_token(sessions, alice.refresh_token)
    assert spent.successor  # sealed: only the spent token's holder opens it
    assert CredentialBox.keyed_by(alice.refresh_token).open(spent.successor) == {
        "accessToken": pair["token"],
        "refreshToken": pair["refreshToken"],
    }
    with pytest.raises(CredentialsUnreadable):
        CredentialBox.keyed_by(pair["refreshToken"]).open(spent.successor)


async def test_a_sealed_pair_is_wiped_once_its_grace_has_passed(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    second = (await refresh(client, alice.refresh_token)).json()["refreshToken"]
    await past_the_grace(sessions, alice.refresh_token)

    assert (await refresh(client, second)).status_code == 200  # the next rotation tidies up

    assert (await stored_token(sessions, alice.refresh_token)).successor is None
    assert (await stored_token(sessions, second)).successor is not None


async def test_refresh_token_reuse_revokes_the_whole_family(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    second = (await refresh(client, alice.refresh_token)).json()["refreshToken"]
    third = (await refresh(client, second)).json()["refreshToken"]
    await past_the_grace(sessions, alice.refresh_token)

    # Someone replays the first, already spent, token: the chain is presumed stolen.
    assert_refused(await refresh(client, alice.refresh_token))

    # ...so even the newest token, never used, is now refused, and stays revoked in the database.
    assert_refused(await refresh(client, third))
    for token in (alice.refresh_token, second, third):
        assert (await stored_token(sessions, token)).revoked_at is not None


async def test_refresh_token_reuse_leaves_other_sign_ins_alone(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    bob: Account,
) -> None:
    laptop = (await login(client, alice.email, alice.password)).json()["refreshToken"]
    newest = (await refresh(client, alice.refresh_token)).json()["refreshToken"]
    await past_the_grace(sessions, alice.refresh_token)

    assert_refused(await refresh(client, alice.refresh_token))
    assert_refused(await refresh(client, newest))

    assert (await refresh(client, laptop)).status_code == 200
    assert (await refresh(client, bob.refresh_token)).status_code == 200


async def test_twenty_concurrent_refreshes_with_one_token_all_get_the_same_new_pair(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    """Tabs of one browser refreshing at once must not sign the user out."""
    answers = await asyncio.gather(*(refresh(client, alice.refresh_token) for _ in range(20)))

    assert [answer.status_code for answer in answers] == [200] * 20, [a.text for a in answers]
    pairs = {(answer.json()["token"], answer.json()["refreshToken"]) for answer in answers}
    assert len(pairs) == 1
    [(access, newest)] = pairs
    assert (await me(client, access)).json()["userId"] == alice.user_id
    async with sessions() as session:  # one rotation: the spent token and its one successor
        family = (await stored_token(sessions, alice.refresh_token)).family_id
        stmt = select(RefreshToken).where(RefreshToken.family_id == family)
        rows = (await session.execute(stmt)).scalars().all()
    assert len(rows) == 2
    assert all(row.revoked_at is None for row in rows)
    assert (await refresh(client, newest)).status_code == 200


class TestWithoutGrace:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"refresh_grace_seconds": 0}

    async def test_without_grace_a_second_exchange_at_once_ends_the_sign_in(
        self, client: httpx.AsyncClient, alice: Account
    ) -> None:
        newest = (await refresh(client, alice.refresh_token)).json()["refreshToken"]

        assert_refused(await refresh(client, alice.refresh_token))
        assert_refused(await refresh(client, newest))


async def test_an_expired_refresh_token_is_refused(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == token_digest(alice.refresh_token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    assert_refused(await refresh(client, alice.refresh_token))


async def test_refresh_refuses_unknown_tokens(client: httpx.AsyncClient, alice: Account) -> None:
    assert_refused(await refresh(client, "not-a-refresh-token"))
    assert_refused(await refresh(client, alice.refresh_token[:-1]))
    # Guessing does not harm the real token.
    assert (await refresh(client, alice.refresh_token)).status_code == 200


async def test_refresh_refuses_malformed_bodies(client: httpx.AsyncClient) -> None:
    for body, fields in [
        ({}, {"body.refreshToken"}),
        ({"refreshToken": ""}, {"body.refreshToken"}),
        ({"refreshToken": 7}, {"body.refreshToken"}),
        ({"refreshToken": "x" * 513}, {"body.refreshToken"}),
        ({"refreshToken": "x", "token": "y"}, {"body.token"}),
    ]:
        response = await client.post(f"{V1}/refresh", json=body)
        assert error_fields(assert_problem(response, 422)) == fields, body


async def test_an_access_token_is_not_accepted_as_a_refresh_token(
    client: httpx.AsyncClient, alice: Account
) -> None:
    assert_refused(await refresh(client, alice.token))


async def test_a_refresh_token_is_not_accepted_as_a_bearer_access_token(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await me(client, alice.refresh_token)

    problem = assert_problem(response, 401)
    assert problem["detail"] == "The access token is invalid or has expired."
    assert response.headers["www-authenticate"] == "Bearer"


async def test_logout_revokes_the_family_of_the_refresh_token(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    rotated = (await refresh(client, alice.refresh_token)).json()

    response = await client.post(
        f"{V1}/logout",
        json={"refreshToken": rotated["refreshToken"]},
        headers=bearer(rotated["token"]),
    )

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_refused(await refresh(client, rotated["refreshToken"]))
    for token in (alice.refresh_token, rotated["refreshToken"]):
        assert (await stored_token(sessions, token)).revoked_at is not None


async def test_logout_leaves_the_users_other_sign_ins_alone(
    client: httpx.AsyncClient, alice: Account
) -> None:
    phone = (await login(client, alice.email, alice.password)).json()["refreshToken"]

    response = await client.post(
        f"{UNVERSIONED}/logout",
        json={"refresh_token": alice.refresh_token},
        headers=alice.headers,
    )

    assert response.status_code == 204, response.text
    assert_refused(await refresh(client, alice.refresh_token))
    assert (await refresh(client, phone)).status_code == 200


async def test_logout_needs_a_signed_in_caller(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(f"{V1}/logout", json={"refreshToken": alice.refresh_token})

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await refresh(client, alice.refresh_token)).status_code == 200


async def test_logout_cannot_revoke_another_users_sign_in(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    response = await client.post(
        f"{V1}/logout", json={"refreshToken": alice.refresh_token}, headers=bob.headers
    )

    assert_refused(response)
    assert (await refresh(client, alice.refresh_token)).status_code == 200
    assert (await refresh(client, bob.refresh_token)).status_code == 200


async def test_logout_refuses_an_unknown_or_missing_refresh_token(
    client: httpx.AsyncClient, alice: Account
) -> None:
    unknown = await client.post(
        f"{V1}/logout", json={"refreshToken": "made-up"}, headers=alice.headers
    )
    missing = await client.post(f"{V1}/logout", json={}, headers=alice.headers)

    assert_refused(unknown)
    assert error_fields(assert_problem(missing, 422)) == {"body.refreshToken"}
