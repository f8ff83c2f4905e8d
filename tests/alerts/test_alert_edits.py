"""Changing a price alert (`PATCH /alerts/{alertId}`): a new threshold or condition re-arms it
(firing at the next check when it already holds, even on the quote it was last checked
against), pausing keeps it silent until resumed; a threshold that does not fit the condition
the alert ends with is 422 and changes nothing; another user's alert is 404."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.alerts.conftest import V1, alert_notices, create_alert, quote, read_alert
from tests.alerts.test_evaluation import feed
from tests.conftest import Account, assert_problem, error_fields


async def amend(
    client: httpx.AsyncClient, who: Account, alert_id: str, **body: Any
) -> httpx.Response:
    return await client.patch(f"{V1}/{alert_id}", json=body, headers=who.headers)


async def test_a_new_threshold_rearms_a_fired_alert_and_the_same_quote_fires_it_again(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    alert_id = (await create_alert(client, alice, "AAPL", "above", "200"))["alertId"]
    assert await feed(sessions, quote("205", second=1)) == 1

    raised = await amend(client, alice, alert_id, threshold="204.5")

    assert raised.status_code == 200, raised.text
    body = raised.json()
    assert (body["condition"], body["threshold"], body["state"]) == ("above", "204.5", "armed")
    assert body["lastCheckedAt"] is None
    assert body["lastPrice"] == "205"  # what the last check saw stays
    assert await feed(sessions, quote("205", second=1)) == 1  # the quote it had seen
    notices = await alert_notices(client, alice)
    assert [n["data"]["threshold"] for n in notices] == ["200", "204.5"]

    same = await amend(client, alice, alert_id, threshold="204.5")  # nothing new: stays fired
    assert same.json()["state"] == "fired"


async def test_a_paused_alert_never_fires_until_resumed(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    alert_id = (await create_alert(client, alice, "MSFT", "below", "300"))["alertId"]

    paused = await amend(client, alice, alert_id, paused=True)
    assert paused.json()["state"] == "paused"
    assert await feed(sessions, quote("290", symbol="MSFT", second=1)) == 0
    assert await feed(sessions, quote("280", symbol="MSFT", second=2)) == 0
    still = await read_alert(client, alice, alert_id)
    assert (still["state"], still["lastPrice"]) == ("paused", "280")  # checked, not fired
    moved = await amend(client, alice, alert_id, threshold="250")
    assert moved.json()["state"] == "paused"  # a new threshold does not resume it

    resumed = await amend(client, alice, alert_id, paused=False, threshold="285")

    assert resumed.json()["state"] == "armed"
    assert await feed(sessions, quote("280", symbol="MSFT", second=2)) == 1
    assert len(await alert_notices(client, alice)) == 1


async def test_a_new_condition_takes_a_threshold_that_fits_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    alert = await create_alert(client, alice, "AAPL", "above", "5000")
    alert_id = alert["alertId"]

    as_percent = await amend(client, alice, alert_id, threshold="-5")  # a price alert's: no
    assert error_fields(assert_problem(as_percent, 422)) == {"body.threshold"}
    both = await amend(client, alice, alert_id, condition="percent_change", threshold="0")
    assert error_fields(assert_problem(both, 422)) == {"body.threshold"}
    kept = await amend(client, alice, alert_id, condition="percent_change")  # 5,000 % is not
    assert assert_problem(kept, 422)["errors"][0]["message"].startswith(
        "a percent_change threshold is above"
    )
    assert await read_alert(client, alice, alert_id) == alert

    changed = await amend(client, alice, alert_id, condition="percent_change", threshold="-5")
    assert changed.status_code == 200, changed.text
    assert (changed.json()["condition"], changed.json()["threshold"]) == ("percent_change", "-5")


@pytest.mark.parametrize(
    "body",
    [{"threshold": "abc"}, {"paused": "maybe"}, {"condition": "sideways"}, {"extra": 1}],
)
async def test_bad_input_is_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any]
) -> None:
    alert = await create_alert(client, alice, "AAPL", "above", "200")

    refused = await client.patch(f"{V1}/{alert['alertId']}", json=body, headers=alice.headers)

    assert_problem(refused, 422)
    assert await read_alert(client, alice, alert["alertId"]) == alert


async def test_another_users_alert_is_404_and_left_alone(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    alert = await create_alert(client, alice, "AAPL", "above", "200")

    refused = await amend(client, bob, alert["alertId"], paused=True)

    assert_problem(refused, 404)
    assert await read_alert(client, alice, alert["alertId"]) == alert
