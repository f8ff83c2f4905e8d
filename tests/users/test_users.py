"""User profiles: GET /users/{userId} (self or superuser only) and PATCH /users/me."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_problem, error_fields, sign_up
from tests.notifications.conftest import PHONE, put_preferences

PROFILE_KEYS = {"userId", "name", "email", "accounts", "createdAt", "lastLogin", "preferences"}
DEFAULT_PREFERENCES = {"theme": "system", "notifications": {"email": True, "sms": False}}


def parse_utc(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(0), value
    return moment


async def profile(client: httpx.AsyncClient, account: Account) -> dict[str, Any]:
    response = await client.get("/api/v1/users/me", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def patch_me(client: httpx.AsyncClient, account: Account, body: Any) -> httpx.Response:
    return await client.patch("/api/v1/users/me", headers=account.headers, json=body)


# --- reading a profile -----------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/v1", "/api"])
async def test_user_reads_own_profile_by_id(
    client: httpx.AsyncClient, alice: Account, prefix: str
) -> None:
    response = await client.get(f"{prefix}/users/{alice.user_id}", headers=alice.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PROFILE_KEYS
    assert body["userId"] == alice.user_id
    assert body["email"] == "alice@example.com"
    assert body["name"] is None
    assert body["accounts"] == []
    assert body["preferences"] == DEFAULT_PREFERENCES


async def test_users_me_is_the_same_profile_as_reading_by_id(
    client: httpx.AsyncClient, alice: Account
) -> None:
    by_id = await client.get(f"/api/v1/users/{alice.user_id}", headers=alice.headers)

    assert by_id.json() == await profile(client, alice)


async def test_created_at_and_last_login_are_iso8601_utc(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = await profile(client, alice)

    created_at = parse_utc(body["createdAt"])
    last_login = parse_utc(body["lastLogin"])
    now = datetime.now(UTC)
    assert now - timedelta(minutes=1) < created_at <= last_login <= now


async def test_each_login_moves_last_login_forward(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = parse_utc((await profile(client, alice))["lastLogin"])

    login = await client.post(
        "/api/v1/auth/login", json={"email": alice.email, "password": alice.password}
    )
    assert login.status_code == 200, login.text
    second = parse_utc((await profile(client, alice))["lastLogin"])

    assert second > first


async def test_reading_another_users_profile_is_404_like_a_nonexistent_user(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    other = await client.get(f"/api/v1/users/{bob.user_id}", headers=alice.headers)
    missing = await client.get(f"/api/v1/users/{uuid.uuid4()}", headers=alice.headers)

    other_body = assert_problem(other, 404)
    missing_body = assert_problem(missing, 404)
    assert other_body["type"] == missing_body["type"] == "/problems/not-found"
    assert other_body["title"] == missing_body["title"]
    assert bob.email not in other.text
    assert other_body["detail"] == f"No user {bob.user_id}."
    assert missing_body["detail"].startswith("No user ")


async def test_a_user_id_that_is_not_a_uuid_is_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get("/api/v1/users/not-a-uuid", headers=alice.headers)

    body = assert_problem(response, 422)
    assert error_fields(body) == {"path.userId"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/users/{user_id}"),
        ("GET", "/api/users/{user_id}"),
        ("GET", "/api/v1/users/me"),
        ("PATCH", "/api/v1/users/me"),
    ],
)
async def test_profile_endpoints_without_a_token_are_401(
    client: httpx.AsyncClient, alice: Account, method: str, path: str
) -> None:
    url = path.format(user_id=alice.user_id)
    kwargs: dict[str, Any] = {"json": {"name": "Eve"}} if method == "PATCH" else {}

    response = await client.request(method, url, **kwargs)

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert (await profile(client, alice))["name"] is None


async def test_a_garbage_token_is_401(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get(
        f"/api/v1/users/{alice.user_id}", headers={"Authorization": "Bearer not.a.jwt"}
    )

    assert_problem(response, 401)


async def test_superuser_reads_another_users_profile(
    client: httpx.AsyncClient, admin: Account, bob: Account
) -> None:
    response = await client.get(f"/api/v1/users/{bob.user_id}", headers=admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PROFILE_KEYS
    assert (body["userId"], body["email"]) == (bob.user_id, "bob@example.com")
    assert body == await profile(client, bob)


async def test_superuser_gets_404_for_a_nonexistent_user(
    client: httpx.AsyncClient, admin: Account
) -> None:
    response = await client.get(f"/api/v1/users/{uuid.uuid4()}", headers=admin.headers)

    assert_problem(response, 404)


async def test_a_regular_user_cannot_read_the_superusers_profile(
    client: httpx.AsyncClient, admin: Account, bob: Account
) -> None:
    response = await client.get(f"/api/v1/users/{admin.user_id}", headers=bob.headers)

    assert_problem(response, 404)


# --- updating your profile --------------------------------------------------------------------


async def with_phone(client: httpx.AsyncClient, who: Account) -> None:
    """The number SMS go to, kept with the notification preferences: the profile's SMS switch
    needs it."""
    kept = await put_preferences(client, who, {"phoneNumber": PHONE})
    assert kept.status_code == 200, kept.text


@pytest.mark.parametrize("prefix", ["/api/v1", "/api"])
async def test_patch_sets_name_and_preferences_and_returns_the_profile(
    client: httpx.AsyncClient, alice: Account, prefix: str
) -> None:
    await with_phone(client, alice)
    update = {
        "name": "Alice Liddell",
        "preferences": {"theme": "dark", "notifications": {"email": False, "sms": True}},
    }

    response = await client.patch(f"{prefix}/users/me", headers=alice.headers, json=update)

    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Alice Liddell"
    assert response.json()["preferences"] == update["preferences"]
    assert await profile(client, alice) == response.json()


async def test_changing_only_the_theme_keeps_notifications(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await with_phone(client, alice)
    notifications = {"email": False, "sms": True}
    first = await patch_me(client, alice, {"preferences": {"notifications": notifications}})
    assert first.status_code == 200, first.text

    response = await patch_me(client, alice, {"preferences": {"theme": "light"}})

    assert response.status_code == 200, response.text
    assert response.json()["preferences"] == {"theme": "light", "notifications": notifications}


async def test_changing_one_notification_keeps_the_other_and_the_theme(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await with_phone(client, alice)
    await patch_me(client, alice, {"preferences": {"theme": "dark"}})

    response = await patch_me(client, alice, {"preferences": {"notifications": {"sms": True}}})

    assert response.status_code == 200, response.text
    expected = {"theme": "dark", "notifications": {"email": True, "sms": True}}
    assert response.json()["preferences"] == expected


async def test_changing_preferences_keeps_the_name_and_vice_versa(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await patch_me(client, alice, {"name": "Alice"})
    await patch_me(client, alice, {"preferences": {"theme": "dark"}})
    response = await patch_me(client, alice, {"name": "Alice L."})

    assert response.json()["name"] == "Alice L."
    assert response.json()["preferences"]["theme"] == "dark"


async def test_an_empty_patch_changes_nothing(client: httpx.AsyncClient, alice: Account) -> None:
    await patch_me(client, alice, {"name": "Alice", "preferences": {"theme": "dark"}})
    before = await profile(client, alice)

    response = await patch_me(client, alice, {})

    assert response.status_code == 200, response.text
    assert response.json() == before


async def test_name_is_trimmed(client: httpx.AsyncClient, alice: Account) -> None:
    response = await patch_me(client, alice, {"name": "  Ada Lovelace  "})

    assert response.json()["name"] == "Ada Lovelace"


async def test_a_null_name_clears_the_name(client: httpx.AsyncClient, alice: Account) -> None:
    await patch_me(client, alice, {"name": "Alice"})

    response = await patch_me(client, alice, {"name": None})

    assert response.status_code == 200, response.text
    assert response.json()["name"] is None


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            {"preferences": {"theme": None}},
            {"theme": "system", "notifications": {"email": False, "sms": True}},
        ),
        (
            {"preferences": {"notifications": None}},
            {"theme": "dark", "notifications": {"email": True, "sms": False}},
        ),
        (
            {"preferences": {"notifications": {"sms": None}}},
            {"theme": "dark", "notifications": {"email": False, "sms": False}},
        ),
        ({"preferences": None}, DEFAULT_PREFERENCES),
    ],
    ids=["theme", "notifications", "one-notification", "all"],
)
async def test_null_puts_a_preference_back_to_its_default(
    client: httpx.AsyncClient, alice: Account, patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    await with_phone(client, alice)
    custom = {"theme": "dark", "notifications": {"email": False, "sms": True}}
    await patch_me(client, alice, {"preferences": custom})

    response = await patch_me(client, alice, patch)

    assert response.status_code == 200, response.text
    assert response.json()["preferences"] == expected
    assert (await profile(client, alice))["preferences"] == expected


INVALID_PATCHES = [
    ({"preferences": {"theme": "neon"}}, "body.preferences.theme"),
    ({"preferences": {"theme": "DARK"}}, "body.preferences.theme"),
    ({"preferences": {"theme": 1}}, "body.preferences.theme"),
    ({"preferences": {"notifications": {"sms": "yes"}}}, "body.preferences.notifications.sms"),
    ({"preferences": {"notifications": {"email": 1}}}, "body.preferences.notifications.email"),
    ({"preferences": {"notifications": True}}, "body.preferences.notifications"),
    ({"preferences": "dark"}, "body.preferences"),
    ({"preferences": ["dark"]}, "body.preferences"),
    ({"name": 42}, "body.name"),
    ({"name": ""}, "body.name"),
    ({"name": "   "}, "body.name"),
    ({"name": "x" * 201}, "body.name"),
    ({"nickname": "Al"}, "body.nickname"),
    ({"preferences": {"colour": "red"}}, "body.preferences.colour"),
    ({"preferences": {"notifications": {"push": True}}}, "body.preferences.notifications.push"),
    ({"name": "Mallory", "preferences": {"theme": "neon"}}, "body.preferences.theme"),
    ({"name": "Mallory", "email": "mallory@example.com"}, "body.email"),
]


@pytest.mark.parametrize(("patch", "field"), INVALID_PATCHES)
async def test_an_invalid_patch_is_422_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account, patch: Any, field: str
) -> None:
    custom = {"theme": "dark", "notifications": {"email": False, "sms": True}}
    await patch_me(client, alice, {"name": "Alice", "preferences": custom})
    before = await profile(client, alice)

    response = await patch_me(client, alice, patch)

    body = assert_problem(response, 422)
    assert field in error_fields(body)
    assert field in body["detail"]
    for error in body["errors"]:
        assert error["message"]
        assert error["type"]
    assert await profile(client, alice) == before


async def test_a_body_that_is_not_an_object_is_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await patch_me(client, alice, ["name", "Alice"])

    assert_problem(response, 422)


async def test_patching_yourself_leaves_other_users_alone(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    before = await profile(client, bob)

    await patch_me(client, alice, {"name": "Alice", "preferences": {"theme": "dark"}})

    assert await profile(client, bob) == before


async def test_a_new_user_starts_with_default_preferences_and_no_accounts(
    client: httpx.AsyncClient,
) -> None:
    carol = await sign_up(client)

    body = await profile(client, carol)

    assert body["preferences"] == DEFAULT_PREFERENCES
    assert body["accounts"] == []
    assert body["email"] == carol.email
