"""Closing an account that pays: its Stripe customer is deleted, which ends the subscription at
once, before anything of the account is; Stripe down keeps the account (and the subscription)
as it was. The subscription's end, delivered afterwards, finds nobody to change."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.users.models import User
from tests.billing.conftest import account_of, deliver, standing, stored_events, subscribe
from tests.conftest import Account, assert_problem
from tests.notifications.conftest import eventually
from tests.stubs import stripe_api as stripe_stub

ME = "/api/v1/users/me"


async def close(client: httpx.AsyncClient, who: Account) -> httpx.Response:
    body = {"email": who.email, "password": who.password}
    return await client.request("DELETE", ME, json=body, headers=who.headers)


async def users(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


@pytest.mark.usefixtures("worker")
async def test_closing_deletes_the_stripe_customer_which_ends_the_subscription(
    client: httpx.AsyncClient,
    alice: Account,
    bob: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subscription_id = await subscribe(client, stripe, sessions, alice)
    customer = stripe.subscriptions[subscription_id]["customer"]
    assert customer in stripe.customers

    closed = await close(client, alice)

    assert closed.status_code == 204, closed.text
    assert customer not in stripe.customers
    assert stripe.subscriptions[subscription_id]["status"] == "canceled"
    assert await account_of(sessions, alice) is None
    ended = stripe.events[-1]
    assert (ended["type"], ended["data"]["object"]["id"]) == (
        "customer.subscription.deleted",
        subscription_id,
    )
    handled = len(await stored_events(sessions))
    await deliver(client, ended)  # Stripe tells Flint, which has nobody left to change

    async def settled() -> bool:
        events = await stored_events(sessions)
        return len(events) == handled + 1 and all(e.handled_at for e in events)

    await eventually(settled, "the subscription's end handled")
    assert await users(sessions) == 1
    assert (await standing(client, bob))["plan"] == "free"


async def test_stripe_down_keeps_the_account_and_the_subscription(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
    worker: None,
) -> None:
    subscription_id = await subscribe(client, stripe, sessions, alice)
    customer = stripe.subscriptions[subscription_id]["customer"]
    stripe.set("500")

    refused = await close(client, alice)

    assert "Stripe is unavailable" in assert_problem(refused, 503)["detail"]
    assert customer in stripe.customers
    assert stripe.subscriptions[subscription_id]["status"] == "active"
    assert (await client.get(ME, headers=alice.headers)).status_code == 200
    assert (await standing(client, alice))["plan"] == "premium"
    stripe.set("success")
    assert (await close(client, alice)).status_code == 204
    assert customer not in stripe.customers


async def test_a_customer_already_deleted_at_stripe_does_not_stop_the_closing(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    made = await client.post("/api/v1/billing/checkout-session", headers=alice.headers)
    assert made.status_code == 201, made.text
    [customer] = list(stripe.customers)
    del stripe.customers[customer]  # deleted in Stripe's dashboard

    assert (await close(client, alice)).status_code == 204
    assert await users(sessions) == 0
