"""Subscribing end to end against the local Stripe: checkout, Stripe's events through the
webhook and the worker, premium, the portal, and back to free when the subscription ends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.billing.conftest import (
    V1,
    account_of,
    all_handled,
    checkout,
    deliver,
    standing,
    stored_events,
    subscribe,
)
from tests.conftest import Account, assert_problem
from tests.stubs import stripe_api as stripe_stub

FREE_LIMITS = {
    "connections": 2,
    "watchlist": 25,
    "portfolios": 2,
    "alerts": 5,
    "pdfReports": 0,
}
UNLIMITED = dict.fromkeys(FREE_LIMITS)
NOTHING = dict.fromkeys(FREE_LIMITS, 0)


async def test_with_stripe_a_user_without_a_subscription_is_on_the_free_plan(
    client: httpx.AsyncClient, alice: Account, stripe: stripe_stub.StripeControl
) -> None:
    assert await standing(client, alice) == {
        "plan": "free",
        "billingEnabled": True,
        "status": None,
        "currentPeriodEnd": None,
        "cancelAtPeriodEnd": False,
        "limits": FREE_LIMITS,
        "usage": NOTHING,
    }


async def test_a_checkout_makes_one_stripe_customer_and_a_subscription_session_for_the_caller(
    client: httpx.AsyncClient, alice: Account, stripe: stripe_stub.StripeControl
) -> None:
    first = await checkout(client, alice)
    again = await checkout(client, alice)

    assert first["sessionId"].startswith("cs_test_")
    assert first["url"].endswith(f"/c/pay/{first['sessionId']}")
    assert again["sessionId"] != first["sessionId"]
    [customer] = stripe.customers.values()
    assert customer["email"] == alice.email
    assert customer["metadata"] == {"flint_user_id": alice.user_id}
    for made in (first, again):
        session = stripe.sessions[made["sessionId"]]
        assert session["mode"] == "subscription"
        assert session["customer"] == customer["id"]
        assert session["client_reference_id"] == alice.user_id
        assert session["_price"] == stripe_stub.PRICE_ID
        assert session["success_url"] == (
            "https://flint.example/billing/success?session_id={CHECKOUT_SESSION_ID}"
        )
        assert session["cancel_url"] == "https://flint.example/billing/cancel"
        assert session["metadata"] == {"flint_user_id": alice.user_id}
        assert session["_subscription_metadata"] == {"flint_user_id": alice.user_id}
    creates = [r for r in stripe.requests if r.path == "/v1/customers"]
    assert len(creates) == 1
    assert creates[0].headers["authorization"] == f"Bearer {stripe_stub.SECRET_KEY}"


async def test_concurrent_checkouts_of_one_user_make_one_customer(
    client: httpx.AsyncClient, alice: Account, stripe: stripe_stub.StripeControl
) -> None:
    made = await asyncio.gather(*(checkout(client, alice) for _ in range(5)))

    assert len({m["sessionId"] for m in made}) == 5
    assert len(stripe.customers) == 1
    assert {s["customer"] for s in stripe.sessions.values()} == set(stripe.customers)


@pytest.mark.usefixtures("worker")
async def test_subscribing_makes_the_user_premium_and_a_deleted_subscription_makes_them_free(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subscription_id = await subscribe(client, stripe, sessions, alice)

    premium = await standing(client, alice)
    period_end = stripe.subscriptions[subscription_id]["items"]["data"][0]["current_period_end"]
    assert premium["plan"] == "premium"
    assert premium["status"] == "active"
    assert premium["limits"] == UNLIMITED
    assert premium["cancelAtPeriodEnd"] is False
    assert datetime.fromisoformat(premium["currentPeriodEnd"]) == datetime.fromtimestamp(
        period_end, UTC
    )
    account = await account_of(sessions, alice)
    assert account is not None
    assert account.subscription_id == subscription_id
    outcomes = sorted((e.type, e.outcome) for e in await stored_events(sessions))
    assert [type_ for type_, _ in outcomes] == [
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.paid",
    ]  # invoice.payment_succeeded is not a kind Flint handles: not kept
    assert all(outcome in {"applied", "stale"} for _, outcome in outcomes), outcomes

    stripe.update_subscription(subscription_id, cancel_at_period_end=True)
    await deliver(client, stripe.events[-1])
    await all_handled(sessions, 4)
    cancelling = await standing(client, alice)
    assert (cancelling["plan"], cancelling["cancelAtPeriodEnd"]) == ("premium", True)

    await deliver(client, stripe.cancel_subscription(subscription_id))
    await all_handled(sessions, 5)
    ended = await standing(client, alice)
    assert (ended["plan"], ended["status"], ended["limits"]) == ("free", "canceled", FREE_LIMITS)


@pytest.mark.usefixtures("worker")
async def test_a_premium_user_cannot_start_a_second_subscription(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await subscribe(client, stripe, sessions, alice)

    refused = await client.post(f"{V1}/checkout-session", headers=alice.headers)

    assert "portal" in assert_problem(refused, 409)["detail"]
    assert len(stripe.sessions) == 1


async def test_the_portal_opens_for_the_callers_customer_and_needs_one(
    client: httpx.AsyncClient, alice: Account, bob: Account, stripe: stripe_stub.StripeControl
) -> None:
    none_yet = await client.post(f"{V1}/portal-session", headers=alice.headers)
    assert "subscribe first" in assert_problem(none_yet, 409)["detail"]

    await checkout(client, alice)
    opened = await client.post(f"{V1}/portal-session", headers=alice.headers)
    assert opened.status_code == 200, opened.text
    [portal] = stripe.portal_sessions
    assert opened.json() == {"url": portal["url"]}
    assert portal["customer"] == next(iter(stripe.customers))
    assert portal["return_url"] == "https://flint.example/billing/return"
    bobs = await client.post(f"{V1}/portal-session", headers=bob.headers)
    assert_problem(bobs, 409)


async def test_a_customer_deleted_at_stripe_is_replaced_at_the_next_checkout(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await checkout(client, alice)
    [gone] = list(stripe.customers)
    del stripe.customers[gone]

    again = await checkout(client, alice)

    [replacement] = list(stripe.customers)
    assert replacement != gone
    assert stripe.sessions[again["sessionId"]]["customer"] == replacement
    account = await account_of(sessions, alice)
    assert account is not None
    assert account.customer_id == replacement


async def test_stripe_down_is_a_503_problem_and_the_customer_made_is_kept(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stripe.set("500")
    down = await client.post(f"{V1}/checkout-session", headers=alice.headers)
    assert "Stripe is unavailable" in assert_problem(down, 503)["detail"]
    assert stripe.customers == {}

    stripe.reset()
    await checkout(client, alice)
    stripe.set("500")
    assert_problem(await client.post(f"{V1}/checkout-session", headers=alice.headers), 503)
    stripe.set("success")
    await checkout(client, alice)

    assert len(stripe.customers) == 1
    account = await account_of(sessions, alice)
    assert account is not None
    assert account.customer_id in stripe.customers


async def test_the_pages_stripe_sends_users_back_to_are_served(client: httpx.AsyncClient) -> None:
    for path, words in (
        ("/billing/success?session_id=cs_test_x", "Thank you"),
        ("/billing/cancel", "Nothing was charged"),
        ("/billing/return", "billing portal"),
    ):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert words in page.text
        assert "cs_test_x" not in page.text  # nothing from the request is echoed
