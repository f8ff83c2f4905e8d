"""A performance computation has a time budget, and one user's slow portfolio does not hold up
another user's requests (one performance worker, as ``make run`` serves it)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from flint.kit.time import utcnow
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.runtime import Runtime
from tests.conftest import Account, assert_problem

pytestmark = pytest.mark.waits
V1 = "/api/v1/portfolio"
BUDGET = 2.5
"""Well under what the slow portfolio's computation takes (about 12 s on a 2-core machine)."""
WARM_TRIES = 3
"""The warm-up only has to get the worker going: on a busy machine a fresh worker's first
answer once took longer than the budget."""


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "performance_workers": 1,
        "performance_budget_seconds": BUDGET,
        # The worker at the API's priority: at nice 15 on a machine the rest of the suite keeps
        # busy, Bob's quick answer from a fresh worker once took longer than the budget.
        "performance_niceness": 0,
    }


async def cash_portfolio(client: httpx.AsyncClient, who: Account) -> str:
    created = await client.post(f"{V1}/", json={"name": "Cash"}, headers=who.headers)
    assert created.status_code == 201, created.text
    portfolio_id: str = created.json()["portfolioId"]
    deposit = {"date": str(utcnow().date() - timedelta(days=30)), "type": "deposit", "amount": "10"}
    added = await client.post(
        f"{V1}/{portfolio_id}/transactions", json=deposit, headers=who.headers
    )
    assert added.status_code == 201, added.text
    return portfolio_id


async def make_slow(app: FastAPI, portfolio_id: str) -> None:
    """A deposit dated in year 1, as the API stored them before it refused such dates: every
    computation of this portfolio works out two thousand years of sessions."""
    runtime: Runtime = app.state.runtime
    async with runtime.sessions() as session, session.begin():
        session.add(
            PortfolioTransaction(
                portfolio_id=uuid.UUID(portfolio_id),
                seq=-1,
                date=date(1, 1, 15),
                type="deposit",
                amount=Decimal(10),
                currency="USD",
            )
        )
        await session.execute(
            update(Portfolio)
            .where(Portfolio.id == uuid.UUID(portfolio_id))
            .values(version=Portfolio.version + 1)
        )


async def timed(
    client: httpx.AsyncClient, url: str, who: Account, **params: str
) -> tuple[httpx.Response, float]:
    response = await client.get(url, params=params, headers=who.headers)
    return response, time.monotonic()


async def test_a_slow_portfolio_is_stopped_at_its_budget_and_does_not_delay_another_users(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    slow = await cash_portfolio(client, alice)
    quick = await cash_portfolio(client, bob)
    for _ in range(WARM_TRIES):  # the worker is up and the closes are stored
        warm = await client.get(f"{V1}/{quick}/performance", headers=bob.headers)
        if warm.status_code != 503:
            break
    assert warm.status_code == 200, warm.text
    await make_slow(app, slow)

    today = utcnow().date()
    alices = [
        asyncio.create_task(
            timed(client, f"{V1}/{slow}/performance", alice, end=str(today - timedelta(days=i)))
        )
        for i in range(3)
    ]
    await asyncio.sleep(0.3)  # Alice's first computation is under way
    asked = time.monotonic()
    bobs, bob_done = await timed(  # not cached: another window
        client, f"{V1}/{quick}/performance", bob, end=str(today - timedelta(days=1))
    )
    assert bobs.status_code == 200, bobs.text
    assert bobs.json()["series"]

    answered = await asyncio.gather(*alices)
    # Bob waited at most for the one computation of Alice's under way (stopped at its
    # budget), not for her queue: he is answered before her second request.
    finished = sorted(done for _, done in answered)
    assert bob_done < finished[1]
    assert bob_done - asked < BUDGET + 15
    for response, _ in answered:
        problem = assert_problem(response, 503)
        assert problem["type"] == "/problems/performance-budget"
        assert f"{BUDGET:g} s budget" in problem["detail"]
