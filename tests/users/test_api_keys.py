"""API keys: shown once and kept as a hash, listed, revoked at once, expiring, refused when
malformed, and never another user's."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from flint.kit.time import utcnow
from flint.users.api import Principals
from flint.users.models import ApiKey, User
from tests.conftest import Account, assert_problem, error_fields, service_url
from tests.users.keys_helpers import key_header, make_key


async def me_with(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/api/v1/users/me", headers=headers)


async def stored_keys(app: FastAPI) -> list[ApiKey]:
    async with app.state.runtime.sessions() as session:
        return list(await session.scalars(select(ApiKey)))


async def listing(client: httpx.AsyncClient, owner: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/api-keys", headers=owner.headers)
    assert response.status_code == 200, response.text
    keys: list[dict[str, Any]] = response.json()["apiKeys"]
    return keys


async def test_the_key_is_shown_once_and_only_its_hash_is_stored(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    created = await make_key(client, alice, "read", "trade", name="backtester")
    key = created["key"]

    assert key.startswith("flint_")
    assert len(key) == 6 + 43
    assert created["prefix"] == key[:12]
    assert created["scopes"] == ["read", "trade"]
    [row] = await stored_keys(app)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in (row.name, row.prefix, row.key_hash, row.scopes)
    [listed] = await listing(client, alice)
    assert "key" not in listed
    assert listed["id"] == created["id"] == str(row.id)


async def test_both_headers_authenticate_as_the_keys_owner(
    client: httpx.AsyncClient, alice: Account
) -> None:
    key = (await make_key(client, alice, "read"))["key"]

    for headers in (key_header(key), {"Authorization": f"Bearer {key}"}):
        response = await me_with(client, headers)
        assert response.status_code == 200, response.text
        assert response.json()["userId"] == alice.user_id


async def test_listing_says_name_prefix_scopes_times_and_records_use_at_most_once_a_minute(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    expires = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    first = await make_key(client, alice, "read", name="first", expiresAt=expires.isoformat())
    second = await make_key(client, alice, "write", "read", name="second")
    await make_key(client, bob, "read", name="bob's")

    before = await listing(client, alice)
    assert [(k["name"], k["scopes"]) for k in before] == [
        ("second", ["read", "write"]),
        ("first", ["read"]),
    ]
    assert before[1]["expiresAt"].startswith(expires.strftime("%Y-%m-%dT%H:%M:%S"))
    assert before[0]["expiresAt"] is None
    assert [k["lastUsedAt"] for k in before] == [None, None]
    assert {k["prefix"] for k in before} == {first["prefix"], second["prefix"]}

    assert (await me_with(client, key_header(first["key"]))).status_code == 200
    used = {k["name"]: k["lastUsedAt"] for k in await listing(client, alice)}
    assert used["first"] is not None
    assert used["second"] is None
    assert (await me_with(client, key_header(first["key"]))).status_code == 200
    again = {k["name"]: k["lastUsedAt"] for k in await listing(client, alice)}
    assert again["first"] == used["first"]  # within the minute: no second write


async def test_a_revoked_key_fails_at_once_and_another_users_key_is_404(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    created = await make_key(client, alice, "read")
    headers = key_header(created["key"])
    assert (await me_with(client, headers)).status_code == 200  # cached now

    stranger = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=bob.headers)
    assert_problem(stranger, 404)
    assert (await me_with(client, headers)).status_code == 200

    revoked = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=alice.headers)
    assert revoked.status_code == 204, revoked.text
    assert_problem(await me_with(client, headers), 401)
    assert await listing(client, alice) == []
    again = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=alice.headers)
    assert_problem(again, 404)
    missing = await client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=alice.headers)
    assert_problem(missing, 404)


async def test_an_expired_key_is_refused(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    created = await make_key(client, alice, "read", expiresAt=soon)
    async with app.state.runtime.sessions.begin() as session:
        await session.execute(update(ApiKey).values(expires_at=utcnow() - timedelta(seconds=1)))

    body = assert_problem(await me_with(client, key_header(created["key"])), 401)
    assert "expired" in body["detail"]


@pytest.mark.parametrize(
    "key",
    [
        "flint_",
        "flint_short",
        "flint_" + "A" * 42 + "!",
        "flint_" + "A" * 43,  # well formed, never issued
        "not-a-key",
    ],
)
async def test_malformed_or_unknown_keys_are_401(
    client: httpx.AsyncClient, alice: Account, key: str
) -> None:
    assert_problem(await me_with(client, key_header(key)), 401)
    if key.startswith("flint_"):
        assert_problem(await me_with(client, {"Authorization": f"Bearer {key}"}), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "scopes": ["read"]}, "name"),
        ({"name": "   ", "scopes": ["read"]}, "name"),
        ({"name": "x" * 101, "scopes": ["read"]}, "name"),
        ({"name": "ok", "scopes": []}, "scopes"),
        ({"name": "ok", "scopes": ["admin"]}, "scopes[0]"),
        ({"name": "ok"}, "scopes"),
        ({"name": "ok", "scopes": ["read"], "expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
        ({"name": "ok", "scopes": ["read"], "expiresAt": "2999-01-01T00:00:00"}, "expiresAt"),
        ({"name": "ok", "scopes": ["read"], "owner": "someone"}, "owner"),
    ],
)
async def test_bad_input_is_a_422_problem_and_creates_nothing(
    client: httpx.AsyncClient, app: FastAPI, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/v1/api-keys", json=body, headers=alice.headers)
    assert f"body.{field}" in error_fields(assert_problem(response, 422))
    assert await stored_keys(app) == []


async def test_at_most_25_keys_at_once(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    for number in range(25):
        await make_key(client, alice, "read", name=f"key {number}")
    refused = await client.post(
        "/api/v1/api-keys", json={"name": "one more", "scopes": ["read"]}, headers=alice.headers
    )
    assert "25" in assert_problem(refused, 409)["detail"]
    assert len(await stored_keys(app)) == 25


async def change_user(app: FastAPI, user_id: str, **values: Any) -> None:
    async with app.state.runtime.sessions.begin() as session:
        await session.execute(update(User).where(User.id == uuid.UUID(user_id)).values(**values))
    await app.state.runtime.get(Principals).forget(uuid.UUID(user_id))


async def test_a_deactivated_users_keys_stop_and_a_password_reset_keeps_them(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    key = key_header((await make_key(client, alice, "read"))["key"])
    assert (await me_with(client, key)).status_code == 200

    await change_user(app, alice.user_id, token_version=User.token_version + 1)  # a reset
    assert_problem(await me_with(client, alice.headers), 401)
    assert (await me_with(client, key)).status_code == 200

    await change_user(app, alice.user_id, is_active=False)
    assert_problem(await me_with(client, key), 401)


async def test_deleting_the_user_deletes_its_keys(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    key = key_header((await make_key(client, alice, "read"))["key"])
    assert (await me_with(client, key)).status_code == 200
    async with app.state.runtime.sessions.begin() as session:
        await session.delete(await session.get(User, uuid.UUID(alice.user_id)))
    await app.state.runtime.get(Principals).forget(uuid.UUID(alice.user_id))

    assert_problem(await me_with(client, key), 401)
    assert await stored_keys(app) == []


class TestAcrossProcesses:
    """Two API processes sharing the database and Redis: a key revoked in one is refused in
    the other at once, although the other had it cached."""

    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"redis_url": service_url("FLINT_TEST_REDIS_URL", "Redis")}

    @pytest.fixture
    def other(self, other_process: httpx.AsyncClient) -> httpx.AsyncClient:
        return other_process

    async def test_a_key_revoked_in_one_process_is_refused_in_another_at_once(
        self, client: httpx.AsyncClient, other: httpx.AsyncClient, alice: Account
    ) -> None:
        created = await make_key(client, alice, "read")
        headers = key_header(created["key"])
        assert (await me_with(other, headers)).status_code == 200  # cached in Redis now

        revoked = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=alice.headers)
        assert revoked.status_code == 204, revoked.text

        assert_problem(await me_with(other, headers), 401)
