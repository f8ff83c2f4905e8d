"""Evaluating price alerts against quotes: an alert fires once, stays fired while its condition
holds, re-arms when it stops holding and fires again on the next crossing; stale quotes change
nothing; concurrent evaluations of one quote fire it once; a batch costs a fixed number of
statements."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.alerts.evaluation import evaluate, evaluate_committed
from flint.market.providers.types import Quote
from tests.alerts.conftest import V1, alert_notices, create_alert, quote, read_alert
from tests.conftest import Account
from tests.notifications.conftest import outbox


async def feed(sessions: async_sessionmaker[AsyncSession], *quotes: Quote) -> int:
    """Evaluate one batch, committed; how many alerts it fired."""
    return len(await evaluate_committed(sessions, list(quotes)))


async def test_an_above_alert_fires_once_rearms_when_false_and_fires_again(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    alert = await create_alert(client, alice, "AAPL", "above", "200")
    alert_id = alert["alertId"]

    assert await feed(sessions, quote("199.99", second=1)) == 0
    assert (await read_alert(client, alice, alert_id))["state"] == "armed"

    assert await feed(sessions, quote("200", change_percent="1.5", second=2)) == 1
    fired = await read_alert(client, alice, alert_id)
    assert fired["state"] == "fired"
    assert (fired["lastPrice"], fired["lastChangePercent"]) == ("200", 1.5)
    assert fired["lastCheckedAt"] == "2026-03-02T15:00:02Z"
    assert fired["lastFiredAt"] is not None

    assert await feed(sessions, quote("205", second=3)) == 0  # still above: no refire
    assert await feed(sessions, quote("210", second=4)) == 0
    assert (await read_alert(client, alice, alert_id))["lastPrice"] == "210"

    assert await feed(sessions, quote("199.5", second=5)) == 0
    assert (await read_alert(client, alice, alert_id))["state"] == "armed"

    assert await feed(sessions, quote("201", second=6)) == 1
    notices = await alert_notices(client, alice)
    assert len(notices) == 2
    assert notices[0]["data"] == {
        "alertId": alert_id,
        "symbol": "AAPL",
        "condition": "above",
        "threshold": "200",
        "price": "200",
        "changePercent": "1.5",
        "quotedAt": "2026-03-02T15:00:02+00:00",
    }
    assert notices[0]["title"] == "AAPL is at 200 USD, at or above 200"
    assert notices[1]["data"]["price"] == "201"


async def test_a_below_alert_fires_at_or_under_its_threshold(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    await create_alert(client, alice, "MSFT", "below", "300")

    fired = [
        await feed(sessions, quote(price, symbol="MSFT", second=i))
        for i, price in enumerate(["300.01", "300", "299", "301", "250"], start=1)
    ]

    assert fired == [0, 1, 0, 0, 1]
    assert [n["data"]["price"] for n in await alert_notices(client, alice)] == ["300", "250"]


async def test_percent_change_alerts_fire_in_the_direction_of_their_sign(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    up = await create_alert(client, alice, "BTC-USD", "percent_change", "5")
    down = await create_alert(client, alice, "BTC-USD", "percent_change", "-3")

    def btc(change: str, second: int) -> Quote:
        return quote("50000", symbol="BTC-USD", change_percent=change, second=second)

    assert await feed(sessions, btc("4.99", 1)) == 0
    assert await feed(sessions, btc("-2.99", 2)) == 0
    assert await feed(sessions, btc("5", 3)) == 1
    assert await feed(sessions, btc("-3.5", 4)) == 1  # the fall fires; the rise re-arms
    assert await feed(sessions, btc("-7", 5)) == 0
    assert await feed(sessions, btc("6", 6)) == 1

    notices = await alert_notices(client, alice)
    assert [n["data"]["alertId"] for n in notices] == [
        up["alertId"],
        down["alertId"],
        up["alertId"],
    ]
    assert notices[0]["title"] == "BTC-USD is up +5% today (alert at +5%)"
    assert notices[1]["title"] == "BTC-USD is down -3.5% today (alert at -3%)"
    assert (await read_alert(client, alice, down["alertId"]))["state"] == "armed"


async def test_an_older_or_repeated_quote_changes_nothing(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    alert = await create_alert(client, alice, "AAPL", "above", "200")

    assert await feed(sessions, quote("201", second=10)) == 1
    assert await feed(sessions, quote("150", second=5)) == 0  # late, out of order
    assert await feed(sessions, quote("150", second=10)) == 0  # same instant
    after = await read_alert(client, alice, alert["alertId"])
    assert (after["state"], after["lastPrice"]) == ("fired", "201")

    # In one batch the newest quote of a symbol is the one that counts.
    assert await feed(sessions, quote("150", second=12), quote("199", second=11)) == 0
    assert (await read_alert(client, alice, alert["alertId"]))["state"] == "armed"
    assert await feed(sessions, quote("150", second=13), quote("250", second=14)) == 1


async def test_a_deleted_alert_never_fires(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    alert = await create_alert(client, alice, "AAPL", "above", "200")
    await client.delete(f"{V1}/{alert['alertId']}", headers=alice.headers)

    assert await feed(sessions, quote("250", second=1)) == 0
    assert await alert_notices(client, alice) == []


async def test_each_user_hears_only_of_their_own_alerts(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    bob: Account,
) -> None:
    alices = await create_alert(client, alice, "AAPL", "above", "200")
    bobs = await create_alert(client, bob, "AAPL", "below", "100")

    assert await feed(sessions, quote("250", second=1)) == 1
    assert await feed(sessions, quote("90", second=2)) == 1

    assert [n["data"]["alertId"] for n in await alert_notices(client, alice)] == [alices["alertId"]]
    assert [n["data"]["alertId"] for n in await alert_notices(client, bob)] == [bobs["alertId"]]


async def test_a_fired_alert_is_delivered_as_the_owner_chose(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    chosen = await client.put(
        "/api/v1/notifications/preferences",
        json={
            "phoneNumber": "+14155552671",
            "channels": {"price_alert": {"email": False, "sms": True}},
        },
        headers=alice.headers,
    )
    assert chosen.status_code == 200, chosen.text
    await create_alert(client, alice, "AAPL", "above", "200")

    await feed(sessions, quote("201", second=1))

    [message] = await outbox(sessions)
    assert (message.channel, message.kind, message.recipient) == (
        "sms",
        "price_alert",
        "+14155552671",
    )
    assert message.body.startswith("Flint: AAPL is at 201 USD")


async def test_concurrent_evaluations_of_one_quote_fire_each_alert_once(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    """Evaluations in separate transactions racing on the same rows (on PostgreSQL really
    concurrent: the later ones wait for the row locks and must find the alerts fired)."""
    for threshold in ("100", "150", "200"):
        await create_alert(client, alice, "AAPL", "above", threshold)

    fired = await asyncio.gather(
        *(evaluate_committed(sessions, [quote("250", second=1)]) for _ in range(8))
    )

    assert sum(len(batch) for batch in fired) == 3
    assert len(await alert_notices(client, alice)) == 3
    states = [a["state"] for a in (await client.get(V1, headers=alice.headers)).json()["alerts"]]
    assert states == ["fired"] * 3


@pytest.fixture
def statements(app: FastAPI) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs while the test is in progress."""
    seen: list[str] = []
    engine = app.state.runtime.engine.sync_engine

    def record(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.append(sql.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_a_batch_costs_one_select_and_one_update_whatever_the_number_of_alerts(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
    statements: list[str],
) -> None:
    symbols = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL"]
    for symbol in symbols:
        for threshold in ("1000000", "2000000", "3000000"):
            await create_alert(client, alice, symbol, "above", threshold)
    batch = [quote("100", symbol=symbol, second=1) for symbol in symbols]

    statements.clear()
    async with sessions() as session:
        assert await evaluate(session, batch) == []
        await session.commit()

    assert [s for s in statements if s in {"SELECT", "UPDATE", "INSERT", "DELETE"}] == [
        "SELECT",
        "UPDATE",
    ]
    listed = (await client.get(V1, headers=alice.headers)).json()["alerts"]
    assert {a["lastPrice"] for a in listed} == {"100"}
