"""The in-app notifications over HTTP: newest first, the unread filter and count, cursor paging,
marking read (idempotent, owner only) and marking all read."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import Account, assert_problem, error_fields
from tests.notifications.conftest import send

V1 = "/api/v1/notifications"


async def seed(sessions: async_sessionmaker[AsyncSession], who: Account, count: int) -> list[str]:
    """``count`` notifications, oldest first; their ids."""
    return [str((await send(sessions, who, "trade", title=f"Notice {i}")).id) for i in range(count)]


async def listing(client: httpx.AsyncClient, who: Account, **params: Any) -> dict[str, Any]:
    response = await client.get(V1, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_notifications_are_listed_newest_first_with_the_unread_count(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    ids = await seed(sessions, alice, 3)

    body = await listing(client, alice)

    assert [n["notificationId"] for n in body["notifications"]] == ids[::-1]
    assert body["unreadCount"] == 3
    assert body["nextCursor"] is None
    first = body["notifications"][0]
    assert first["kind"] == "trade"
    assert first["title"] == "Notice 2"
    assert first["body"] == "What happened, for trade."
    assert first["read"] is False
    assert first["readAt"] is None
    assert first["data"] == {}


async def test_pages_follow_the_cursor_to_the_end_without_gaps_or_repeats(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    ids = await seed(sessions, alice, 5)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = await listing(client, alice, **params)
        seen += [n["notificationId"] for n in body["notifications"]]
        pages += 1
        assert body["unreadCount"] == 5
        cursor = body["nextCursor"]
        if cursor is None:
            break

    assert pages == 3
    assert seen == ids[::-1]


async def test_reading_one_is_idempotent_and_the_unread_filter_leaves_it_out(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    ids = await seed(sessions, alice, 3)

    first = await client.post(f"{V1}/{ids[1]}/read", headers=alice.headers)
    again = await client.post(f"{V1}/{ids[1]}/read", headers=alice.headers)

    assert first.status_code == again.status_code == 200
    assert first.json()["read"] is True
    assert first.json()["readAt"] is not None
    assert again.json()["readAt"] == first.json()["readAt"]
    unread = await listing(client, alice, unread="true")
    assert [n["notificationId"] for n in unread["notifications"]] == [ids[2], ids[0]]
    assert unread["unreadCount"] == 2
    everything = await listing(client, alice)
    assert [n["read"] for n in everything["notifications"]] == [False, True, False]


async def test_read_all_marks_every_unread_one_once(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    bob: Account,
) -> None:
    ids = await seed(sessions, alice, 3)
    await seed(sessions, bob, 1)
    await client.post(f"{V1}/{ids[0]}/read", headers=alice.headers)

    response = await client.post(f"{V1}/read-all", headers=alice.headers)
    again = await client.post(f"{V1}/read-all", headers=alice.headers)

    assert response.status_code == 200
    assert response.json() == {"marked": 2, "unreadCount": 0}
    assert again.json() == {"marked": 0, "unreadCount": 0}
    assert all(n["read"] for n in (await listing(client, alice))["notifications"])
    assert (await listing(client, bob))["unreadCount"] == 1


async def test_another_users_notifications_are_invisible_and_404(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    bob: Account,
) -> None:
    [alices] = await seed(sessions, alice, 1)

    assert (await listing(client, bob))["notifications"] == []
    response = await client.post(f"{V1}/{alices}/read", headers=bob.headers)
    assert_problem(response, 404)
    assert (await listing(client, alice))["notifications"][0]["read"] is False


async def test_bad_ids_cursors_and_limits_are_422_and_unknown_ids_404(
    client: httpx.AsyncClient, alice: Account
) -> None:
    not_uuid = await client.post(f"{V1}/not-a-uuid/read", headers=alice.headers)
    assert error_fields(assert_problem(not_uuid, 422)) == {"path.notificationId"}
    unknown = await client.post(
        f"{V1}/00000000-0000-4000-8000-000000000000/read", headers=alice.headers
    )
    assert_problem(unknown, 404)
    for params, field in [
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"cursor": "bm90fGEtY3Vyc29y"}, "query.cursor"),  # base64 of "not|a-cursor"
        ({"limit": 0}, "query.limit"),
        ({"limit": 201}, "query.limit"),
        ({"unread": "maybe"}, "query.unread"),
    ]:
        response = await client.get(V1, params=params, headers=alice.headers)
        assert error_fields(assert_problem(response, 422)) == {field}, params


async def test_the_notification_routes_need_a_signed_in_caller(client: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", V1),
        ("POST", f"{V1}/read-all"),
        ("POST", f"{V1}/00000000-0000-4000-8000-000000000000/read"),
        ("GET", f"{V1}/preferences"),
        ("GET", "/api/notifications"),
    ]:
        assert_problem(await client.request(method, path), 401)
