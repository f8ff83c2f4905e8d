"""Fixtures of the billing tests: a local Stripe (tests/stubs/stripe_api.py) the app is configured
for, a real Celery worker (the trades tests' own) for the webhook's work, and helpers that sign
and deliver the stub's events the way Stripe does."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from flint.billing.models import BillingAccount, BillingEvent
from tests.conftest import Account
from tests.notifications.conftest import eventually
from tests.stubs import stripe_api as stripe_stub
from tests.stubs.fixtures import stub
from tests.stubs.server import RunningStub
from tests.trades.conftest import worker

__all__ = ["eventually", "stub", "worker"]

V1 = "/api/v1/billing"


@pytest.fixture(scope="module")
def served_app() -> Starlette:
    return stripe_stub.create_app()


@pytest.fixture
def stripe(stub: RunningStub) -> stripe_stub.StripeControl:
    """The local Stripe's control, reset for this test."""
    stub.control.reset()
    return cast(stripe_stub.StripeControl, stub.control)


def stripe_settings(stub: RunningStub) -> dict[str, Any]:
    return {
        "stripe_secret_key": stripe_stub.SECRET_KEY,
        "stripe_webhook_secret": stripe_stub.WEBHOOK_SECRET,
        "stripe_premium_price_id": stripe_stub.PRICE_ID,
        "stripe_api_base": stub.url,
        "public_url": "https://flint.example",
        "vendor_retry_attempts": 1,
    }


@pytest.fixture
def settings_overrides(stub: RunningStub) -> dict[str, Any]:
    return stripe_settings(stub)


@pytest.fixture
def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker


def signed(event: dict[str, Any], **signing: Any) -> dict[str, Any]:
    """The keyword arguments of a webhook delivery of ``event`` (``signing``: see
    :func:`tests.stubs.stripe_api.signature`)."""
    body = json.dumps(event)
    return {
        "content": body,
        "headers": {
            "Stripe-Signature": stripe_stub.signature(body, **signing),
            "Content-Type": "application/json; charset=utf-8",
        },
    }


async def deliver(client: httpx.AsyncClient, event: dict[str, Any], **signing: Any) -> None:
    """Deliver ``event`` as Stripe would; Flint must take it (200)."""
    response = await client.post(f"{V1}/webhook", **signed(event, **signing))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}


async def standing(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    response = await client.get(f"{V1}/subscription", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def stored_events(sessions: async_sessionmaker[AsyncSession]) -> list[BillingEvent]:
    async with sessions() as session:
        stmt = select(BillingEvent).order_by(BillingEvent.received_at)
        return list((await session.execute(stmt)).scalars())


async def all_handled(sessions: async_sessionmaker[AsyncSession], count: int) -> list[BillingEvent]:
    """Wait until ``count`` events are stored and every one is handled (by the worker)."""

    async def check() -> list[BillingEvent] | None:
        found = await stored_events(sessions)
        done = len(found) == count and all(e.handled_at is not None for e in found)
        return found if done else None

    handled: list[BillingEvent] = await eventually(check, f"{count} events handled")
    return handled


async def account_of(
    sessions: async_sessionmaker[AsyncSession], who: Account
) -> BillingAccount | None:
    async with sessions() as session:
        return await session.get(BillingAccount, uuid.UUID(who.user_id))


async def checkout(client: httpx.AsyncClient, who: Account) -> dict[str, Any]:
    response = await client.post(f"{V1}/checkout-session", headers=who.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def subscribe(
    client: httpx.AsyncClient,
    stripe: stripe_stub.StripeControl,
    sessions: async_sessionmaker[AsyncSession],
    who: Account,
) -> str:
    """``who`` goes through Checkout and Stripe tells Flint (the worker handles the events);
    returns the subscription's id."""
    started = await checkout(client, who)
    emitted = stripe.complete_checkout(started["sessionId"])
    before = len(await stored_events(sessions))
    for event in emitted:
        await deliver(client, event)
    handled = [e for e in emitted if e["type"] != "invoice.payment_succeeded"]
    await all_handled(sessions, before + len(handled))
    subscription_id: str = emitted[0]["data"]["object"]["id"]
    return subscription_id


async def gather_statuses(*calls: Any) -> list[int]:
    responses = await asyncio.gather(*calls)
    return sorted(response.status_code for response in responses)
