"""Price alerts over HTTP: create, list, read, delete; another user's alerts are 404; bad
input is 422 naming the field and creates nothing; a cap per user."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.alerts.conftest import V1, create_alert, read_alert
from tests.conftest import Account, assert_problem, error_fields


async def listed(client: httpx.AsyncClient, who: Account) -> list[dict[str, Any]]:
    response = await client.get(V1, headers=who.headers)
    assert response.status_code == 200, response.text
    alerts: list[dict[str, Any]] = response.json()["alerts"]
    return alerts


async def test_an_alert_is_created_armed_and_listed_newest_first(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await create_alert(client, alice, " aapl ", "above", "200.5")
    second = await create_alert(client, alice, "BTC-USD", "percent_change", "-7.25")

    assert first["symbol"] == "AAPL"
    assert (first["condition"], first["threshold"], first["state"]) == ("above", "200.5", "armed")
    for empty in ("lastPrice", "lastChangePercent", "lastCheckedAt", "lastFiredAt"):
        assert first[empty] is None
    assert first["createdAt"]
    assert (second["condition"], second["threshold"]) == ("percent_change", "-7.25")
    assert [a["alertId"] for a in await listed(client, alice)] == [
        second["alertId"],
        first["alertId"],
    ]
    assert await read_alert(client, alice, first["alertId"]) == first


async def test_an_alert_is_on_the_symbol_as_the_market_names_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """``BRK.B`` is the market's ``BRK-B``: its quotes come under that name, the alert with
    them (it said ``BRK.B``, unlike the quote it is checked against)."""
    alert = await create_alert(client, alice, "brk.b", "above", "1")

    assert alert["symbol"] == "BRK-B"
    quote = await client.get("/api/v1/market/real-time/BRK.B", headers=alice.headers)
    assert quote.json()["symbol"] == alert["symbol"]


async def test_a_deleted_alert_is_gone(client: httpx.AsyncClient, alice: Account) -> None:
    alert = await create_alert(client, alice, "MSFT", "below", "300")

    deleted = await client.delete(f"{V1}/{alert['alertId']}", headers=alice.headers)

    assert deleted.status_code == 204
    assert_problem(await client.get(f"{V1}/{alert['alertId']}", headers=alice.headers), 404)
    assert_problem(await client.delete(f"{V1}/{alert['alertId']}", headers=alice.headers), 404)
    assert await listed(client, alice) == []


async def test_another_users_alert_is_404_and_left_alone(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    alert = await create_alert(client, alice, "AAPL", "above", "200")
    path = f"{V1}/{alert['alertId']}"

    assert_problem(await client.get(path, headers=bob.headers), 404)
    assert_problem(await client.delete(path, headers=bob.headers), 404)
    assert await listed(client, bob) == []
    assert await read_alert(client, alice, alert["alertId"]) == alert


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "NOPE1", "condition": "above", "threshold": "1"}, "body.symbol"),
        ({"symbol": "AA PL", "condition": "above", "threshold": "1"}, "body.symbol"),
        ({"symbol": "AAPL", "condition": "sideways", "threshold": "1"}, "body.condition"),
        ({"symbol": "AAPL", "condition": "above", "threshold": "0"}, "body.threshold"),
        ({"symbol": "AAPL", "condition": "below", "threshold": "-5"}, "body.threshold"),
        ({"symbol": "AAPL", "condition": "above", "threshold": "1e9"}, "body.threshold"),
        ({"symbol": "AAPL", "condition": "above", "threshold": "1.123456789"}, "body.threshold"),
        ({"symbol": "AAPL", "condition": "above", "threshold": "NaN"}, "body.threshold"),
        ({"symbol": "AAPL", "condition": "above", "threshold": "lots"}, "body.threshold"),
        ({"symbol": "AAPL", "condition": "percent_change", "threshold": "0"}, "body.threshold"),
        ({"symbol": "AAPL", "condition": "percent_change", "threshold": "-100"}, "body.threshold"),
        (
            {"symbol": "AAPL", "condition": "percent_change", "threshold": "1000.5"},
            "body.threshold",
        ),
        (
            {"symbol": "AAPL", "condition": "percent_change", "threshold": "1.23456"},
            "body.threshold",
        ),
        ({"symbol": "AAPL", "condition": "above"}, "body.threshold"),
        ({"condition": "above", "threshold": "1"}, "body.symbol"),
        ({"symbol": "AAPL", "condition": "above", "threshold": "1", "repeat": True}, "body.repeat"),
    ],
)
async def test_bad_alerts_are_422_naming_the_field_and_create_nothing(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    response = await client.post(V1, json=body, headers=alice.headers)

    assert error_fields(assert_problem(response, 422)) == {field}
    assert await listed(client, alice) == []


async def test_percent_change_thresholds_at_the_edges_are_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for threshold in ("-99.9999", "0.0001", "1000"):
        await create_alert(client, alice, "AAPL", "percent_change", threshold)
    assert len(await listed(client, alice)) == 3


@pytest.mark.parametrize("settings_overrides", [{"alerts_max_per_user": 2}])
async def test_beyond_the_cap_a_new_alert_is_409_until_one_is_deleted(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    first = await create_alert(client, alice, "AAPL", "above", "1")
    await create_alert(client, alice, "AAPL", "below", "1")

    refused = await client.post(
        V1, json={"symbol": "MSFT", "condition": "above", "threshold": "1"}, headers=alice.headers
    )

    assert "delete one" in assert_problem(refused, 409)["detail"]
    assert len(await listed(client, alice)) == 2
    await create_alert(client, bob, "MSFT", "above", "1")  # the cap is per user
    await client.delete(f"{V1}/{first['alertId']}", headers=alice.headers)
    await create_alert(client, alice, "MSFT", "above", "1")


async def test_alert_routes_need_a_signed_in_caller(client: httpx.AsyncClient) -> None:
    some = "00000000-0000-4000-8000-000000000000"
    for method, path in [
        ("GET", V1),
        ("POST", V1),
        ("GET", f"{V1}/{some}"),
        ("DELETE", f"{V1}/{some}"),
    ]:
        assert_problem(await client.request(method, path), 401)
