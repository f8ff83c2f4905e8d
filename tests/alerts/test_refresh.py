"""Alerts are checked where quotes are refreshed: the periodic refresh task (which also
refreshes every symbol with an alert, watched or not) and the live stream's poller."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.config import Settings
from flint.market import storage
from flint.market.api import QuoteFeed
from flint.market.tasks import refresh_quotes
from tests.alerts.conftest import alert_notices, create_alert, read_alert
from tests.conftest import Account, sign_up
from tests.market.stream_client import exchange, serving, stream
from tests.notifications.conftest import eventually


async def test_symbols_with_alerts_are_refreshed_though_nobody_watches_them(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    watched = await client.post(
        "/api/v1/watchlist/add",
        json={"userId": alice.user_id, "asset": "AAPL"},
        headers=alice.headers,
    )
    assert watched.status_code in (200, 201), watched.text
    await create_alert(client, alice, "MSFT", "above", "1")
    await create_alert(client, alice, "AAPL", "below", "1")

    async with sessions() as session:
        assert await app.state.runtime.get(QuoteFeed).watched(session) == ["AAPL", "MSFT"]


@pytest.mark.usefixtures("worker")
@pytest.mark.timeout(90)
async def test_the_refresh_task_checks_alerts_against_the_quotes_it_fetched(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    always = await create_alert(client, alice, "MSFT", "above", "0.01")
    never = await create_alert(client, alice, "MSFT", "below", "0.01")

    refresh_quotes.delay()

    [notice] = await eventually(lambda: alert_notices(client, alice), "no alert fired", 60)
    assert notice["data"]["alertId"] == always["alertId"]
    async with sessions() as session:
        stored = await storage.last_quote(session, "MSFT")
    assert stored is not None
    assert Decimal(notice["data"]["price"]) == stored.price
    fired = await read_alert(client, alice, always["alertId"])
    assert (fired["state"], Decimal(str(fired["lastPrice"]))) == ("fired", stored.price)
    checked = await read_alert(client, alice, never["alertId"])
    assert (checked["state"], checked["lastCheckedAt"]) == ("armed", fired["lastCheckedAt"])


@pytest.mark.timeout(90)
async def test_the_stream_poller_checks_alerts_on_the_quotes_it_reads(settings: Settings) -> None:
    quiet = settings.model_copy(update={"stream_poll_seconds": 0.0, "stream_ping_seconds": 0.0})
    async with serving(quiet) as served:
        carol = await sign_up(served.http, "carol@example.com")
        alert = await create_alert(served.http, carol, "AAPL", "above", "0.01")
        async with stream(served, carol.token) as ws:
            await exchange(ws, {"action": "subscribe", "symbols": ["AAPL"]})

            assert await served.hub.poll_once() == 1

        [notice] = await alert_notices(served.http, carol)
        assert notice["data"]["alertId"] == alert["alertId"]
        assert (await read_alert(served.http, carol, alert["alertId"]))["state"] == "fired"
