"""Adding each thing a plan limits, through the API, and the problem a refusal must be."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from flint.market.universe import load_universe
from tests.conftest import Account, assert_problem

Adder = Callable[[httpx.AsyncClient, Account, int], Awaitable[httpx.Response]]


WATCHABLE = [instrument.symbol for instrument in load_universe()]
"""Symbols the market knows (a watchlist refuses others), a different one for each ``n``."""


async def add_watch(client: httpx.AsyncClient, who: Account, n: int) -> httpx.Response:
    body = {"userId": who.user_id, "asset": WATCHABLE[n]}
    return await client.post("/api/v1/watchlist/add", json=body, headers=who.headers)


async def add_portfolio(client: httpx.AsyncClient, who: Account, n: int) -> httpx.Response:
    return await client.post("/api/v1/portfolio/", json={"name": f"P{n}"}, headers=who.headers)


async def add_alert(client: httpx.AsyncClient, who: Account, n: int) -> httpx.Response:
    body = {"symbol": "AAPL", "condition": "above", "threshold": str(500 + n)}
    return await client.post("/api/v1/alerts", json=body, headers=who.headers)


async def add_link(client: httpx.AsyncClient, who: Account, n: int) -> httpx.Response:
    body = {"provider": "sandbox", "authCode": f"plan-{n}"}
    return await client.post("/api/v1/accounts/link", json=body, headers=who.headers)


ADDERS: dict[str, Adder] = {
    "watchlist": add_watch,
    "portfolios": add_portfolio,
    "alerts": add_alert,
    "connections": add_link,
}


async def request_report(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, format_: str
) -> httpx.Response:
    body = {"type": "transactions", "portfolioId": portfolio_id, "format": format_}
    return await client.post("/api/v1/reports/", json=body, headers=who.headers)


def assert_plan_limit(
    response: httpx.Response, limit: str, *, allowed: int, usage: int, plan: str = "free"
) -> dict[str, Any]:
    """A 403 problem naming the limit, what the plan allows, what the caller has, and the plan
    that lifts it."""
    body = assert_problem(response, 403)
    assert body["type"].endswith("/plan-limit")
    assert body["title"] == "Plan limit reached"
    assert (body["limit"], body["allowed"], body["usage"]) == (limit, allowed, usage)
    assert (body["plan"], body["upgradeTo"]) == (plan, "premium")
    assert "premium" in body["detail"]
    return body
