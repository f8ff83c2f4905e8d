"""Plan limits with Stripe configured: a user without a subscription is on the free plan; the
limit-th add works and the next is a 403 `/plan-limit`; concurrent adds at the edge make one;
premium lifts the limits; after a downgrade what is held stays, readable and deletable."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.billing.conftest import all_handled, deliver, standing, stripe_settings, subscribe
from tests.billing.plan_limits import (
    ADDERS,
    WATCHABLE,
    add_link,
    add_portfolio,
    add_watch,
    assert_plan_limit,
    request_report,
)
from tests.conftest import Account
from tests.stubs import stripe_api as stripe_stub
from tests.stubs.server import RunningStub

FREE = {"connections": 2, "watchlist": 25, "portfolios": 2, "alerts": 5}


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, stub: RunningStub) -> dict[str, Any]:
    """The local Stripe, and what a test's ``indirect`` parameter changes."""
    return {**stripe_settings(stub), **getattr(request, "param", {})}


async def fill(client: httpx.AsyncClient, who: Account, limit: str, count: int) -> None:
    for n in range(count):
        response = await ADDERS[limit](client, who, n)
        assert response.status_code == 201, (limit, n, response.text)


@pytest.mark.parametrize("limit", list(FREE))
async def test_the_limit_th_add_works_and_the_next_is_a_plan_limit_problem(
    client: httpx.AsyncClient, alice: Account, bob: Account, limit: str
) -> None:
    allowed = FREE[limit]
    await fill(client, alice, limit, allowed)

    refused = await ADDERS[limit](client, alice, allowed)

    assert_plan_limit(refused, limit, allowed=allowed, usage=allowed)
    assert (await standing(client, alice))["usage"][limit] == allowed  # nothing was added
    assert (await ADDERS[limit](client, bob, 0)).status_code == 201  # limits are per user


async def test_the_free_plan_has_no_pdf_reports_but_csv_and_html(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio = (await add_portfolio(client, alice, 0)).json()["portfolioId"]

    refused = await request_report(client, alice, portfolio, "pdf")

    body = assert_plan_limit(refused, "pdfReports", allowed=0, usage=0)
    assert "includes no PDF reports" in body["detail"]
    for format_ in ("csv", "html"):
        assert (await request_report(client, alice, portfolio, format_)).status_code == 202


@pytest.mark.parametrize(
    "settings_overrides",
    [{"plan_limits": {"free": {"pdf_reports": 1, "watchlist": None}}}],
    indirect=True,
)
async def test_the_plans_limits_are_configurable(client: httpx.AsyncClient, alice: Account) -> None:
    portfolio = (await add_portfolio(client, alice, 0)).json()["portfolioId"]
    assert (await request_report(client, alice, portfolio, "pdf")).status_code == 202
    second = await request_report(client, alice, portfolio, "pdf")
    assert_plan_limit(second, "pdfReports", allowed=1, usage=1)
    await fill(client, alice, "watchlist", 30)
    limits = (await standing(client, alice))["limits"]
    assert (limits["pdfReports"], limits["watchlist"], limits["portfolios"]) == (1, None, 2)


@pytest.mark.parametrize("limit", ["watchlist", "portfolios", "alerts", "connections"])
async def test_twenty_concurrent_adds_at_one_below_the_limit_make_exactly_one(
    client: httpx.AsyncClient, alice: Account, limit: str
) -> None:
    allowed = FREE[limit]
    await fill(client, alice, limit, allowed - 1)

    responses = await asyncio.gather(
        *(ADDERS[limit](client, alice, allowed - 1 + n) for n in range(20))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [403] * 19, [r.text for r in responses if r.status_code >= 500]
    assert (await standing(client, alice))["usage"][limit] == allowed


async def test_linking_accounts_held_again_takes_no_connection(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await fill(client, alice, "connections", 2)

    again = await add_link(client, alice, 0)  # the same accounts, fresh credentials

    assert again.status_code == 201, again.text
    assert (await standing(client, alice))["usage"]["connections"] == 2
    listed = await client.get("/api/v1/accounts", headers=alice.headers)
    assert len(listed.json()["accounts"]) == 6  # two links of three accounts, none doubled


@pytest.mark.parametrize("settings_overrides", [{"alerts_max_per_user": 3}], indirect=True)
async def test_the_servers_alert_cap_still_applies_below_the_plans(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await fill(client, alice, "alerts", 3)
    capped = await ADDERS["alerts"](client, alice, 3)
    assert capped.status_code == 409, capped.text


@pytest.mark.usefixtures("worker")
async def test_after_a_downgrade_what_is_held_stays_readable_and_deletable_and_no_more_is_added(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subscription_id = await subscribe(client, stripe, sessions, alice)
    await fill(client, alice, "portfolios", 4)
    await fill(client, alice, "watchlist", 27)  # over the free plan's, while premium

    await deliver(client, stripe.cancel_subscription(subscription_id))
    await all_handled(sessions, 4)
    assert (await standing(client, alice))["plan"] == "free"

    portfolios = (await client.get("/api/v1/portfolio/", headers=alice.headers)).json()
    ids = [p["portfolioId"] for p in portfolios["portfolios"]]
    assert len(ids) == 4
    watched = await client.get(f"/api/v1/watchlist/{alice.user_id}", headers=alice.headers)
    assert len(watched.json()["watchlist"]) == 27
    for portfolio_id in ids:
        read = await client.get(f"/api/v1/portfolio/{portfolio_id}", headers=alice.headers)
        assert read.status_code == 200, read.text
    assert_plan_limit(await add_portfolio(client, alice, 9), "portfolios", allowed=2, usage=4)
    assert_plan_limit(await add_watch(client, alice, 28), "watchlist", allowed=25, usage=27)

    for portfolio_id in ids[:2]:
        gone = await client.delete(f"/api/v1/portfolio/{portfolio_id}", headers=alice.headers)
        assert gone.status_code == 204, gone.text
    assert_plan_limit(await add_portfolio(client, alice, 9), "portfolios", allowed=2, usage=2)
    await client.delete(f"/api/v1/portfolio/{ids[2]}", headers=alice.headers)
    assert (await add_portfolio(client, alice, 9)).status_code == 201
    assert (await standing(client, alice))["usage"] == {
        "connections": 0,
        "watchlist": 27,
        "portfolios": 2,
        "alerts": 0,
        "pdfReports": 0,
    }


async def test_concurrent_adds_of_one_new_symbol_at_the_edge_all_end_with_it_on_the_watchlist(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await fill(client, alice, "watchlist", 24)

    responses = await asyncio.gather(*(add_watch(client, alice, 99) for _ in range(20)))

    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert {r.json()["asset"] for r in responses} == {WATCHABLE[99]}
