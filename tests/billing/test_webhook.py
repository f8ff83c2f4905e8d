"""Stripe's webhook: only Stripe's signed, recent bodies are taken; each event is handled once
however often it comes; late deliveries never move a subscription back; a failed payment
makes it past due and tells the user."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.billing import tasks
from flint.billing.models import BillingEvent
from flint.kit.time import utcnow
from flint.notifications.models import OutboxMessage
from tests.billing.conftest import (
    V1,
    account_of,
    all_handled,
    checkout,
    deliver,
    eventually,
    signed,
    standing,
    stored_events,
    subscribe,
)
from tests.billing.test_subscribe import FREE_LIMITS
from tests.conftest import Account, assert_problem
from tests.stubs import stripe_api as stripe_stub


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, Any]) -> dict[str, Any]:
    """A small general body limit, which Stripe's webhook is not held to."""
    return {**settings_overrides, "max_body_bytes": 2048}


def with_body(event: dict[str, Any], body: str, **signing: Any) -> dict[str, Any]:
    delivery = signed(event, **signing)
    return {**delivery, "content": body}


def refusals(event: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Deliveries Flint must refuse, each named for what is wrong with it."""
    body = json.dumps(event)
    tampered = body.replace('"active"', '"trialing"')
    assert tampered != body
    not_an_event = json.dumps({"hello": "world"})
    # Signed, and shaped like an event, but holding what no column takes (a 500 before).
    out_of_range = {
        "signed, created beyond 64 bits": {**event, "created": 2**63},
        "signed, created before 1970": {**event, "created": -1},
        "signed, created true": {**event, "created": True},
        "signed, an id of 256 characters": {**event, "id": "evt_" + "x" * 252},
        "signed, an empty id": {**event, "id": ""},
        "signed, a NUL in the id": {**event, "id": "evt_\u0000"},
    }
    return {
        **{name: signed(bad) for name, bad in out_of_range.items()},
        "unsigned": {"content": body, "headers": {"Content-Type": "application/json"}},
        "another secret": signed(event, secret="whsec_someone_else"),
        "body changed after signing": with_body(event, tampered),
        "stale (301 s old)": signed(event, at=int(time.time()) - 301),
        "garbled header": {"content": body, "headers": {"Stripe-Signature": "t=soon,v1=zz"}},
        "signed, not JSON": {
            "content": "not json",
            "headers": {"Stripe-Signature": stripe_stub.signature("not json")},
        },
        "signed, not an event": {
            "content": not_an_event,
            "headers": {"Stripe-Signature": stripe_stub.signature(not_an_event)},
        },
    }


async def test_unsigned_mis_signed_and_stale_webhooks_are_400_and_nothing_is_stored(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    started = await checkout(client, alice)
    created = stripe.complete_checkout(started["sessionId"])[0]

    for name, delivery in refusals(created).items():
        response = await client.post(f"{V1}/webhook", **delivery)
        body = assert_problem(response, 400)
        assert body["type"] == "/problems/bad-request", name
        assert body["detail"].startswith("Not a webhook from Stripe"), name

    assert await stored_events(sessions) == []
    assert (await standing(client, alice))["plan"] == "free"


async def test_a_webhook_signed_within_the_tolerance_is_taken(
    client: httpx.AsyncClient, alice: Account, stripe: stripe_stub.StripeControl
) -> None:
    started = await checkout(client, alice)
    created = stripe.complete_checkout(started["sessionId"])[0]
    await deliver(client, created, at=int(time.time()) - 240)


async def test_kinds_flint_does_not_handle_are_acknowledged_and_not_kept(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    started = await checkout(client, alice)
    emitted = stripe.complete_checkout(started["sessionId"])
    [succeeded] = [e for e in emitted if e["type"] == "invoice.payment_succeeded"]
    await deliver(client, succeeded)
    assert await stored_events(sessions) == []


async def test_a_webhook_over_the_general_body_limit_is_still_taken(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """`FLINT_MAX_BODY_BYTES` is 2 KiB here; Stripe's events have a limit of their own."""
    started = await checkout(client, alice)
    created = copy.deepcopy(stripe.complete_checkout(started["sessionId"])[0])
    created["data"]["object"]["description"] = "x" * 4096
    await deliver(client, created)
    assert [e.id for e in await stored_events(sessions)] == [created["id"]]

    created["id"] = "evt_huge"
    created["data"]["object"]["description"] = "x" * (1024 * 1024)
    assert_problem(await client.post(f"{V1}/webhook", **signed(created)), 413)


@pytest.mark.usefixtures("worker")
async def test_twenty_concurrent_deliveries_of_one_event_are_handled_once(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subscription_id = await subscribe(client, stripe, sessions, alice)
    failed = stripe.fail_renewal(subscription_id)[0]

    await asyncio.gather(*(deliver(client, failed) for _ in range(20)))
    await all_handled(sessions, 4)
    await deliver(client, failed)  # and once more, later

    kept = [e for e in await stored_events(sessions) if e.id == failed["id"]]
    assert [(e.type, e.outcome) for e in kept] == [("invoice.payment_failed", "applied")]
    notices = await billing_notices(client, alice)
    assert len(notices) == 1
    async with sessions() as session:
        emails = (
            await session.execute(select(OutboxMessage).where(OutboxMessage.kind == "billing"))
        ).scalars()
        assert [m.recipient for m in emails] == [alice.email]


@pytest.mark.usefixtures("worker")
async def test_a_failed_payment_makes_the_subscription_past_due_and_tells_the_user(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subscription_id = await subscribe(client, stripe, sessions, alice)
    failed, _ = stripe.fail_renewal(subscription_id)

    await deliver(client, failed)  # the subscription's own update is left undelivered
    await all_handled(sessions, 4)

    now = await standing(client, alice)
    assert (now["status"], now["plan"]) == ("past_due", "premium")  # while Stripe retries
    [notice] = await billing_notices(client, alice)
    invoice = failed["data"]["object"]
    assert notice["title"] == "Your premium payment failed"
    assert invoice["number"] in notice["body"]
    assert notice["data"] == {
        "subscriptionId": subscription_id,
        "status": "past_due",
        "invoiceId": invoice["id"],
        "hostedInvoiceUrl": invoice["hosted_invoice_url"],
    }


async def billing_notices(client: httpx.AsyncClient, who: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/notifications", headers=who.headers)
    assert response.status_code == 200, response.text
    return [n for n in response.json()["notifications"] if n["kind"] == "billing"]


def outcomes(events: list[BillingEvent]) -> dict[str, str | None]:
    return {e.id: e.outcome for e in events}


@pytest.mark.usefixtures("worker")
async def test_out_of_order_deliveries_keep_the_newest_state(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = int(time.time())
    started = await checkout(client, alice)
    paid = stripe.complete_checkout(started["sessionId"], at=now - 120)
    subscription_id = paid[0]["data"]["object"]["id"]
    cancelling = stripe.update_subscription(subscription_id, at=now - 60, cancel_at_period_end=True)
    deleted = stripe.cancel_subscription(subscription_id, at=now)

    late_first = [deleted, cancelling, paid[0]]  # newest first, the checkout's last
    for event in late_first:
        await deliver(client, event)
    await all_handled(sessions, 3)

    ended = await standing(client, alice)
    assert (ended["plan"], ended["status"]) == ("free", "canceled")
    assert outcomes(await stored_events(sessions)) == {
        deleted["id"]: "applied",
        cancelling["id"]: "stale",
        paid[0]["id"]: "stale",
    }


@pytest.mark.usefixtures("worker")
async def test_two_changes_in_one_second_are_settled_by_reading_stripe(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subscription_id = await subscribe(client, stripe, sessions, alice)
    second = int(time.time()) + 1  # after the state the checkout left, whatever the clock
    cancel = stripe.update_subscription(subscription_id, at=second, cancel_at_period_end=True)
    resume = stripe.update_subscription(subscription_id, at=second, cancel_at_period_end=False)
    path = f"/v1/subscriptions/{subscription_id}"
    reads = stripe.count_path(path)

    await deliver(client, resume)  # the newer one first:
    await deliver(client, cancel)  # the same second, so the order is unknown
    await all_handled(sessions, 5)

    assert (await standing(client, alice))["cancelAtPeriodEnd"] is False  # as Stripe has it
    assert stripe.count_path(path) > reads


@pytest.mark.usefixtures("worker")
async def test_a_deletion_in_the_second_of_the_last_change_ends_the_plan_when_stripes_date_lags(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """An update and the deletion stamped in one second are settled by reading Stripe, whose
    `Date` here is a few seconds behind the events' clock (a server's date is to the second,
    and not the same clock): the read is still newer than both, so the plan ends."""
    subscription_id = await subscribe(client, stripe, sessions, alice)
    ahead = int(time.time()) + 3
    await deliver(
        client, stripe.update_subscription(subscription_id, at=ahead, cancel_at_period_end=True)
    )
    await all_handled(sessions, 4)
    await deliver(client, stripe.cancel_subscription(subscription_id, at=ahead))
    await all_handled(sessions, 5)

    ended = await standing(client, alice)
    assert (ended["plan"], ended["status"], ended["limits"]) == ("free", "canceled", FREE_LIMITS)


@pytest.mark.usefixtures("worker")
async def test_a_cancelled_subscription_never_comes_back(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    subscription_id = await subscribe(client, stripe, sessions, alice)
    deleted = stripe.cancel_subscription(subscription_id, at=int(time.time()) + 1)
    revived = copy.deepcopy(deleted)  # a delivery of the same second, still saying active
    revived.update(id="evt_same_second_update", type="customer.subscription.updated")
    revived["data"]["object"].update(status="active", canceled_at=None, ended_at=None)

    await deliver(client, deleted)
    await deliver(client, revived)
    await all_handled(sessions, 5)

    assert (await standing(client, alice))["status"] == "canceled"
    assert outcomes(await stored_events(sessions))[revived["id"]] == "stale"


@pytest.mark.usefixtures("worker")
async def test_an_event_whose_job_was_lost_is_handled_by_the_sweep(
    client: httpx.AsyncClient,
    alice: Account,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    started = await checkout(client, alice)
    created = stripe.complete_checkout(started["sessionId"])[0]
    async with sessions() as session:  # stored as the webhook stores it, its job never sent
        session.add(
            BillingEvent(
                id=created["id"], type=created["type"], created=created["created"], payload=created
            )
        )
        await session.commit()

    assert await anyio.to_thread.run_sync(lambda: tasks.sweep.apply().get()) == 0  # too recent
    async with sessions() as session:
        aged = utcnow() - timedelta(minutes=6)
        await session.execute(update(BillingEvent).values(received_at=aged))
        await session.commit()
    assert await anyio.to_thread.run_sync(lambda: tasks.sweep.apply().get()) == 1

    await all_handled(sessions, 1)
    account = await eventually(lambda: account_of(sessions, alice), "the account")
    assert account.status == "active"


@pytest.mark.usefixtures("worker")
async def test_an_event_about_a_subscription_flint_does_not_know_is_taken_and_ignored(
    client: httpx.AsyncClient,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Stripe's own example event (samples/), for a customer and subscription Flint never
    made: acknowledged (Stripe would retry a refusal for days), then ignored."""
    sample = json.loads(
        (stripe_stub.SAMPLES / "stripe_event_checkout_session_completed.json").read_text()
    )
    await deliver(client, sample)
    [kept] = await all_handled(sessions, 1)
    assert (kept.id, kept.outcome) == (sample["id"], "ignored: no subscription")
