"""A trade at the sandbox outside market hours, end to end: the worker sends it, the sandbox
holds it for the next session, and the trade's events show each step until it fills at the
open. The sandbox's clock is set to a June 2025 evening (the trades feature keeps its own)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
from fastapi import FastAPI

from flint.db import commit
from flint.market.api import MarketData
from flint.trades import orders
from flint.trades.context import TradingContext
from tests.conftest import Account
from tests.trades.conftest import link_sandbox

V1 = "/api/v1/trades"


@pytest.mark.usefixtures("worker")
async def test_a_market_order_placed_at_night_is_held_then_fills_at_the_next_open(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = {"now": datetime(2025, 6, 18, 23, 0, tzinfo=UTC)}  # Wednesday, 19:00 in New York
    monkeypatch.setattr("flint.brokerage.sandbox.provider.utcnow", lambda: clock["now"])
    account_id = (await link_sandbox(client, alice, "night-owl", always_open=False))["accountId"]
    placed = await client.post(
        f"{V1}/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "3"},
        headers=alice.headers,
    )
    assert placed.status_code == 202, placed.text
    assert placed.json()["status"] == "submitted"
    trade_id = placed.json()["tradeId"]
    trail = (await client.get(f"{V1}/{trade_id}/events", headers=alice.headers)).json()["events"]
    assert [event["status"] for event in trail] == ["pending", "submitted"]
    held = trail[1]["detail"]
    assert held["providerStatus"] == "held"
    assert "2025-06-20 09:30" in held["reason"]  # Juneteenth (Thursday) is a holiday

    clock["now"] = datetime(2025, 6, 24, 15, 0, tzinfo=UTC)  # the sweep looks on Tuesday
    async with app.state.runtime.sessions() as session:
        context: TradingContext = app.state.runtime.get(TradingContext)
        assert await orders.refresh(session, context, uuid.UUID(trade_id)) == "filled"
        await commit(session)
    market: MarketData = app.state.runtime.get(MarketData)
    [friday] = await market.daily_bars("AAPL", date(2025, 6, 20), date(2025, 6, 20))
    trade = (await client.get(f"{V1}/{trade_id}", headers=alice.headers)).json()
    assert trade["status"] == "filled"
    assert str(trade["averagePrice"]) == str(friday.open)
    trail = (await client.get(f"{V1}/{trade_id}/events", headers=alice.headers)).json()["events"]
    assert [event["status"] for event in trail] == ["pending", "submitted", "filled"]
    assert trail[2]["detail"]["providerStatus"] == "filled"
