"""Answers carrying tokens are never kept by a cache or proxy (RFC 6749 section 5.1)."""

from __future__ import annotations

import httpx

from tests.auth.helpers import UNVERSIONED, V1, login, refresh
from tests.conftest import Account


def assert_not_stored(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"


async def test_every_answer_carrying_tokens_forbids_caching(
    client: httpx.AsyncClient, alice: Account
) -> None:
    signed_in = await login(client, alice.email, alice.password)
    form = {"username": alice.email, "password": alice.password}
    oauth = await client.post(f"{UNVERSIONED}/token", data=form)
    rotated = await refresh(client, signed_in.json()["refreshToken"])

    for response in (signed_in, oauth, rotated):
        assert_not_stored(response)
    assert oauth.json()["access_token"]
    assert rotated.json()["refreshToken"] != signed_in.json()["refreshToken"]
    assert_not_stored(await client.get(f"{V1}/me", headers=alice.headers))
