"""A server without Stripe keys: billing's endpoints answer 503 (but the plan view), everyone
has `FLINT_DEFAULT_PLAN`, premium unless set, so a self-hosted install is not held to the free
plan's limits."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.billing.conftest import V1, signed, standing, stored_events
from tests.billing.plan_limits import add_portfolio, add_watch, assert_plan_limit, request_report
from tests.conftest import Account, assert_problem
from tests.stubs import stripe_api as stripe_stub


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(getattr(request, "param", {}))


@pytest.fixture
def sessions(app: Any) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker


async def test_billing_endpoints_answer_503_and_keep_nothing(
    client: httpx.AsyncClient, alice: Account, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sample = json.loads(
        (stripe_stub.SAMPLES / "stripe_event_customer_subscription_updated.json").read_text()
    )
    answers = [
        await client.post(f"{V1}/checkout-session", headers=alice.headers),
        await client.post(f"{V1}/portal-session", headers=alice.headers),
        await client.post(f"{V1}/webhook", **signed(sample)),
    ]
    for response in answers:
        body = assert_problem(response, 503)
        assert body["detail"].startswith("Billing is not configured on this server")
    assert await stored_events(sessions) == []


async def test_everyone_is_premium_by_default_with_no_limits(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for n in range(30):
        assert (await add_watch(client, alice, n)).status_code == 201
    for n in range(3):
        assert (await add_portfolio(client, alice, n)).status_code == 201
    portfolio = (await client.get("/api/v1/portfolio/", headers=alice.headers)).json()
    first = portfolio["portfolios"][0]["portfolioId"]
    assert (await request_report(client, alice, first, "pdf")).status_code == 202

    assert await standing(client, alice) == {
        "plan": "premium",
        "billingEnabled": False,
        "status": None,
        "currentPeriodEnd": None,
        "cancelAtPeriodEnd": False,
        "limits": dict.fromkeys(["connections", "watchlist", "portfolios", "alerts", "pdfReports"]),
        "usage": {"connections": 0, "watchlist": 30, "portfolios": 3, "alerts": 0, "pdfReports": 1},
    }


@pytest.mark.parametrize("settings_overrides", [{"default_plan": "free"}], indirect=True)
async def test_a_server_may_put_everyone_on_the_free_plan(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for n in range(2):
        assert (await add_portfolio(client, alice, n)).status_code == 201

    assert_plan_limit(await add_portfolio(client, alice, 2), "portfolios", allowed=2, usage=2)
    assert (await standing(client, alice))["plan"] == "free"
