"""Watchlists: add (201 new, 200 existing), list (oldest first), remove; private to their owner."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from flint.watchlist.models import WatchlistItem
from tests.conftest import Account, assert_problem, error_fields

ENTRY_KEYS = {"watchlistId", "asset", "addedAt"}


async def add(
    client: httpx.AsyncClient, account: Account, asset: Any, *, user_id: str | None = None
) -> httpx.Response:
    body = {"userId": user_id or account.user_id, "asset": asset}
    return await client.post("/api/v1/watchlist/add", headers=account.headers, json=body)


async def assets(client: httpx.AsyncClient, account: Account) -> list[str]:
    return [entry["asset"] for entry in await entries(client, account)]


async def entries(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    response = await client.get(f"/api/v1/watchlist/{account.user_id}", headers=account.headers)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"watchlist"}
    items: list[dict[str, Any]] = response.json()["watchlist"]
    return items


async def remove(client: httpx.AsyncClient, account: Account, asset: str) -> httpx.Response:
    path = f"/api/v1/watchlist/{account.user_id}/{quote(asset, safe='')}"
    return await client.delete(path, headers=account.headers)


# --- adding -----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/v1", "/api"])
async def test_adding_an_asset_returns_201_with_the_new_item(
    client: httpx.AsyncClient, alice: Account, prefix: str
) -> None:
    response = await client.post(
        f"{prefix}/watchlist/add",
        headers=alice.headers,
        json={"userId": alice.user_id, "asset": "AAPL"},
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == ENTRY_KEYS
    assert body["asset"] == "AAPL"
    uuid.UUID(body["watchlistId"])
    added_at = datetime.fromisoformat(body["addedAt"])
    assert added_at.utcoffset() == timedelta(0)
    assert datetime.now(UTC) - timedelta(minutes=1) < added_at <= datetime.now(UTC)
    assert await entries(client, alice) == [body]


async def test_adding_an_existing_asset_returns_the_same_item_with_200(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await add(client, alice, "AAPL")

    again = await add(client, alice, "AAPL")

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await assets(client, alice) == ["AAPL"]


async def test_lower_case_input_is_normalized_to_upper_case(
    client: httpx.AsyncClient, alice: Account
) -> None:
    lower = await add(client, alice, "aapl")
    upper = await add(client, alice, "AAPL")
    padded = await add(client, alice, "  aApL ")

    assert lower.status_code == 201, lower.text
    assert lower.json()["asset"] == "AAPL"
    assert (upper.status_code, padded.status_code) == (200, 200)
    assert (
        upper.json()["watchlistId"] == padded.json()["watchlistId"] == lower.json()["watchlistId"]
    )
    assert await assets(client, alice) == ["AAPL"]


@pytest.mark.parametrize(
    ("asset", "stored"),
    [
        ("AAPL", "AAPL"),
        ("BRK.B", "BRK-B"),
        ("brk.b", "BRK-B"),
        ("BRK-B", "BRK-B"),
        ("BTC-USD", "BTC-USD"),
        ("^GSPC", "^GSPC"),
        ("EURUSD=X", "EURUSD=X"),
        ("eurusd=x", "EURUSD=X"),
        ("A", "A"),
    ],
)
async def test_valid_symbols_are_added_listed_and_removed(
    client: httpx.AsyncClient, alice: Account, asset: str, stored: str
) -> None:
    added = await add(client, alice, asset)
    assert added.status_code == 201, added.text
    assert added.json()["asset"] == stored
    assert await assets(client, alice) == [stored]

    removed = await remove(client, alice, asset)

    assert removed.status_code == 204, removed.text
    assert await assets(client, alice) == []


async def test_either_spelling_of_a_listed_symbol_is_one_item_kept_as_the_market_names_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The market reads ``BRK.B`` as its ``BRK-B`` (the quote answers under that name): the
    watchlist held Berkshire twice, once per spelling."""
    dotted = await add(client, alice, "BRK.B")
    dashed = await add(client, alice, "BRK-B")

    assert (dotted.status_code, dashed.status_code) == (201, 200), dashed.text
    assert dashed.json() == dotted.json()
    assert dotted.json()["asset"] == "BRK-B"
    assert await assets(client, alice) == ["BRK-B"]

    removed = await remove(client, alice, "brk.b")

    assert removed.status_code == 204, removed.text
    assert await assets(client, alice) == []


@pytest.mark.parametrize("asset", ["ABCDEFGHIJKLMN5", "ZZZZQ", "BRK.Z"])
async def test_a_well_formed_symbol_the_market_does_not_know_is_refused_and_nothing_is_added(
    client: httpx.AsyncClient, alice: Account, asset: str
) -> None:
    """As an alert, a trade or a portfolio refuses it: no quote could ever be shown for it."""
    response = await add(client, alice, asset)

    body = assert_problem(response, 422)
    assert error_fields(body) == {"body.asset"}
    assert f"Unknown symbol {asset}" in body["detail"]
    assert await assets(client, alice) == []


@pytest.mark.parametrize(
    "asset",
    [
        "",
        "   ",
        "AAPL$",
        "A" * 16,
        "ABCDEFGHIJKLMNOP",
        "AA PL",
        "ÄAPL",
        123,
        1.5,
        None,
        True,
        ["AAPL"],
        {"symbol": "AAPL"},
    ],
)
async def test_an_invalid_asset_is_422_naming_the_field_and_adds_nothing(
    client: httpx.AsyncClient, alice: Account, asset: Any
) -> None:
    response = await add(client, alice, asset)

    body = assert_problem(response, 422)
    assert error_fields(body) == {"body.asset"}
    assert await assets(client, alice) == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"asset": "AAPL"}, {"body.userId"}),
        ({"userId": "{user_id}"}, {"body.asset"}),
        ({}, {"body.userId", "body.asset"}),
        ({"userId": "not-a-uuid", "asset": "AAPL"}, {"body.userId"}),
        ({"userId": "{user_id}", "asset": "AAPL", "note": "hi"}, {"body.note"}),
    ],
)
async def test_a_malformed_add_request_is_422_naming_each_field(
    client: httpx.AsyncClient, alice: Account, body: dict[str, str], fields: set[str]
) -> None:
    payload = {key: value.format(user_id=alice.user_id) for key, value in body.items()}

    response = await client.post("/api/v1/watchlist/add", headers=alice.headers, json=payload)

    problem = assert_problem(response, 422)
    assert error_fields(problem) == fields
    assert await assets(client, alice) == []


async def test_snake_case_user_id_is_accepted(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.post(
        "/api/v1/watchlist/add",
        headers=alice.headers,
        json={"user_id": alice.user_id, "asset": "MSFT"},
    )

    assert response.status_code == 201, response.text
    assert await assets(client, alice) == ["MSFT"]


async def test_concurrent_adds_of_one_asset_make_one_item(
    client: httpx.AsyncClient, alice: Account
) -> None:
    responses = await asyncio.gather(*(add(client, alice, "NVDA") for _ in range(5)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 200, 200, 200, 201], [r.text for r in responses]
    assert len({response.json()["watchlistId"] for response in responses}) == 1
    assert await assets(client, alice) == ["NVDA"]


# --- listing ----------------------------------------------------------------------------------


async def test_a_new_users_watchlist_is_empty(client: httpx.AsyncClient, alice: Account) -> None:
    assert await entries(client, alice) == []


async def test_the_watchlist_lists_items_oldest_first(
    client: httpx.AsyncClient, alice: Account
) -> None:
    added = [(await add(client, alice, asset)).json() for asset in ["MSFT", "AAPL", "BTC-USD"]]

    listed = await entries(client, alice)

    assert listed == added
    times = [datetime.fromisoformat(entry["addedAt"]) for entry in listed]
    assert times == sorted(times)


async def test_order_follows_added_at_then_symbol_not_insertion(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    for asset in ["MSFT", "AAPL", "TSLA", "GOOG"]:
        assert (await add(client, alice, asset)).status_code == 201
    noon = datetime(2026, 1, 2, 12, tzinfo=UTC)
    added_at = {"TSLA": noon - timedelta(hours=1), "MSFT": noon, "AAPL": noon, "GOOG": noon}
    async with app.state.runtime.sessions() as session:
        for symbol, moment in added_at.items():
            await session.execute(
                update(WatchlistItem).where(WatchlistItem.symbol == symbol).values(added_at=moment)
            )
        await session.commit()

    listed = await entries(client, alice)

    assert [entry["asset"] for entry in listed] == ["TSLA", "AAPL", "GOOG", "MSFT"]
    assert datetime.fromisoformat(listed[0]["addedAt"]) == noon - timedelta(hours=1)


async def test_reading_is_the_same_under_api_and_api_v1(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await add(client, alice, "AAPL")

    v1 = await client.get(f"/api/v1/watchlist/{alice.user_id}", headers=alice.headers)
    unversioned = await client.get(f"/api/watchlist/{alice.user_id}", headers=alice.headers)

    assert v1.status_code == unversioned.status_code == 200
    assert v1.json() == unversioned.json()


# --- removing ---------------------------------------------------------------------------------


async def test_removing_an_asset_answers_204_and_it_is_gone(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await add(client, alice, "AAPL")
    await add(client, alice, "MSFT")

    response = await remove(client, alice, "AAPL")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await assets(client, alice) == ["MSFT"]


async def test_removing_accepts_lower_case(client: httpx.AsyncClient, alice: Account) -> None:
    await add(client, alice, "BRK.B")

    response = await remove(client, alice, "brk.b")

    assert response.status_code == 204, response.text
    assert await assets(client, alice) == []


async def test_removing_an_asset_that_is_not_there_is_404(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await add(client, alice, "AAPL")

    response = await remove(client, alice, "MSFT")

    body = assert_problem(response, 404)
    assert "MSFT" in body["detail"]
    assert await assets(client, alice) == ["AAPL"]


async def test_removing_twice_is_404_the_second_time(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await add(client, alice, "AAPL")

    first = await remove(client, alice, "AAPL")
    second = await remove(client, alice, "AAPL")

    assert first.status_code == 204
    assert_problem(second, 404)


async def test_re_adding_a_removed_asset_creates_a_new_item(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await add(client, alice, "AAPL")
    await remove(client, alice, "AAPL")

    again = await add(client, alice, "AAPL")

    assert again.status_code == 201, again.text
    assert again.json()["watchlistId"] != first.json()["watchlistId"]


@pytest.mark.parametrize("asset", ["AAPL$", "AA PL", "A" * 16])
async def test_removing_an_invalid_symbol_is_422_naming_the_path(
    client: httpx.AsyncClient, alice: Account, asset: str
) -> None:
    response = await remove(client, alice, asset)

    body = assert_problem(response, 422)
    assert error_fields(body) == {"path.asset"}


# --- privacy and authentication ---------------------------------------------------------------


async def test_adding_to_another_users_watchlist_is_404_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await add(client, bob, "AAPL")
    before = await entries(client, bob)

    response = await add(client, alice, "TSLA", user_id=bob.user_id)

    assert_problem(response, 404)
    assert await entries(client, bob) == before
    assert await entries(client, alice) == []


async def test_reading_another_users_watchlist_is_404_like_a_nonexistent_user(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await add(client, bob, "AAPL")

    other = await client.get(f"/api/v1/watchlist/{bob.user_id}", headers=alice.headers)
    missing = await client.get(f"/api/v1/watchlist/{uuid.uuid4()}", headers=alice.headers)

    other_body = assert_problem(other, 404)
    missing_body = assert_problem(missing, 404)
    assert other_body["type"] == missing_body["type"] == "/problems/not-found"
    assert "AAPL" not in other.text


async def test_removing_from_another_users_watchlist_is_404_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await add(client, bob, "AAPL")
    await add(client, alice, "AAPL")
    bob_before = await entries(client, bob)
    alice_before = await entries(client, alice)

    response = await client.delete(f"/api/v1/watchlist/{bob.user_id}/AAPL", headers=alice.headers)

    assert_problem(response, 404)
    assert await entries(client, bob) == bob_before
    assert await entries(client, alice) == alice_before


async def test_two_users_watch_the_same_asset_independently(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    alices = await add(client, alice, "AAPL")
    bobs = await add(client, bob, "AAPL")

    assert (alices.status_code, bobs.status_code) == (201, 201)
    assert alices.json()["watchlistId"] != bobs.json()["watchlistId"]
    assert (await remove(client, alice, "AAPL")).status_code == 204
    assert await assets(client, bob) == ["AAPL"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_a_user_id_that_is_not_a_uuid_is_422(
    client: httpx.AsyncClient, alice: Account, method: str
) -> None:
    path = "/api/v1/watchlist/me" if method == "GET" else "/api/v1/watchlist/me/AAPL"

    response = await client.request(method, path, headers=alice.headers)

    body = assert_problem(response, 422)
    assert "path.userId" in error_fields(body)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/watchlist/add", {"userId": "{user_id}", "asset": "AAPL"}),
        ("POST", "/api/watchlist/add", {"userId": "{user_id}", "asset": "AAPL"}),
        ("GET", "/api/v1/watchlist/{user_id}", None),
        ("DELETE", "/api/v1/watchlist/{user_id}/AAPL", None),
    ],
)
async def test_watchlist_endpoints_without_a_token_are_401_and_change_nothing(
    client: httpx.AsyncClient,
    alice: Account,
    method: str,
    path: str,
    body: dict[str, str] | None,
) -> None:
    await add(client, alice, "AAPL")
    before = await entries(client, alice)
    payload = {k: v.format(user_id=alice.user_id) for k, v in body.items()} if body else None

    response = await client.request(method, path.format(user_id=alice.user_id), json=payload)

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert await entries(client, alice) == before
