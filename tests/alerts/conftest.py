"""Fixtures and helpers of the price-alert tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.market.providers.types import Quote
from tests.conftest import Account
from tests.notifications.conftest import worker

__all__ = ["worker"]

V1 = "/api/v1/alerts"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker


def quote(price: str, *, symbol: str = "AAPL", change_percent: str = "0", second: int = 0) -> Quote:
    """A quote of ``symbol`` at ``price``, ``second`` seconds after :data:`T0`."""
    value = Decimal(price)
    previous = (value / (1 + Decimal(change_percent) / 100)).quantize(Decimal("0.01"))
    return Quote(
        symbol=symbol,
        price=value,
        change=value - previous,
        change_percent=Decimal(change_percent),
        open=previous,
        high=max(value, previous),
        low=min(value, previous),
        previous_close=previous,
        volume=1000,
        currency="USD",
        timestamp=T0 + timedelta(seconds=second),
        provider="test",
    )


async def create_alert(
    client: httpx.AsyncClient, who: Account, symbol: str, condition: str, threshold: str
) -> dict[str, Any]:
    response = await client.post(
        V1,
        json={"symbol": symbol, "condition": condition, "threshold": threshold},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def read_alert(client: httpx.AsyncClient, who: Account, alert_id: str) -> dict[str, Any]:
    response = await client.get(f"{V1}/{alert_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def alert_notices(client: httpx.AsyncClient, who: Account) -> list[dict[str, Any]]:
    """The caller's price-alert notifications, oldest first."""
    response = await client.get("/api/v1/notifications", headers=who.headers)
    assert response.status_code == 200, response.text
    found = [n for n in response.json()["notifications"] if n["kind"] == "price_alert"]
    return found[::-1]
