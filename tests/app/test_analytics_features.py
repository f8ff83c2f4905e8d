"""Mixpanel events of the features tests/app/test_analytics.py does not reach: a report the
worker renders, a subscription Stripe changes, and a two-factor sign-in. Each is driven through
the API and the real worker to the local Mixpanel, and arrives once, under the user id, with its
allowed properties and nothing else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.auth.twofactor import TwoFactorConfig
from tests.app.test_analytics import received
from tests.auth.helpers_two_factor import Clock, challenge, turn_on, verify
from tests.billing.conftest import stripe_settings, subscribe
from tests.conftest import Account
from tests.portfolio.test_performance_api import make_portfolio
from tests.reports.conftest import finished, request_report
from tests.stubs import stripe_api as stripe_stub
from tests.stubs.mixpanel_api import TOKEN, mixpanel_app
from tests.stubs.server import RunningStub, run_stub
from tests.trades.conftest import worker

__all__ = ["worker"]

pytestmark = pytest.mark.timeout(120)

LIBRARY_KEYS = {"token", "distinct_id", "time", "$insert_id", "mp_lib", "$lib_version"}
"""What every event carries besides a feature's own properties (Flint's and the library's)."""


@pytest.fixture
def stub() -> Iterator[RunningStub]:
    """The local Mixpanel (the name `received` and `control` expect)."""
    with run_stub(mixpanel_app()) as running:
        yield running


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[RunningStub]:
    with run_stub(stripe_stub.create_app()) as running:
        yield running


@pytest.fixture
def settings_overrides(stub: RunningStub, stripe_server: RunningStub) -> dict[str, Any]:
    stripe_server.control.reset()
    return stripe_settings(stripe_server) | {
        "mixpanel_token": TOKEN,
        "mixpanel_events_url": f"{stub.url}/track",
        "mixpanel_retry_seconds": 0.2,
    }


def own(properties: dict[str, Any]) -> dict[str, Any]:
    """The properties the feature chose (what `flint.analytics` let through)."""
    return {name: value for name, value in properties.items() if name not in LIBRARY_KEYS}


def the_one(events: list[dict[str, Any]], name: str, who: Account) -> dict[str, Any]:
    """The single event called ``name``, checked to be ``who``'s and to hold no email."""
    found = [event["properties"] for event in events if event["event"] == name]
    assert len(found) == 1, [event["event"] for event in events]
    (properties,) = found
    assert properties["distinct_id"] == who.user_id
    assert properties["token"] == TOKEN
    assert who.email not in json.dumps(properties)
    return properties


@pytest.mark.usefixtures("worker")
async def test_a_rendered_report_is_counted_with_its_kind_and_format_only(
    client: httpx.AsyncClient, alice: Account, stub: RunningStub
) -> None:
    portfolio_id, _, end = await make_portfolio(client, alice)
    queued = await request_report(
        client, alice, portfolio_id, end=end.isoformat(), format="html"
    )  # the free plan (Stripe is configured here) includes no PDF reports
    report = await finished(client, alice, queued["reportId"])
    assert report["status"] == "completed", report

    events = await received(stub, 3)  # signup, login, report_generated

    properties = the_one(events, "report_generated", alice)
    assert own(properties) == {"kind": "portfolio_summary", "format": "html"}
    sent = json.dumps(properties)
    for private in ("Growth", "AAPL", "BTC-USD", portfolio_id, queued["reportId"]):
        assert private not in sent
    assert len(events) == 3


@pytest.mark.usefixtures("worker")
async def test_a_completed_checkout_is_counted_once_as_a_subscription_change(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    stub: RunningStub,
    stripe_server: RunningStub,
) -> None:
    stripe = stripe_server.control
    assert isinstance(stripe, stripe_stub.StripeControl)
    sessions: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    subscription_id = await subscribe(client, stripe, sessions, alice)
    standing = await client.get("/api/v1/billing/subscription", headers=alice.headers)
    assert standing.json()["plan"] == "premium", standing.text

    events = await received(stub, 3)  # signup, login, subscription_changed

    properties = the_one(events, "subscription_changed", alice)
    assert own(properties) == {"plan": "premium", "status": "active"}
    sent = json.dumps(properties)
    assert subscription_id not in sent
    assert stripe_stub.PRICE_ID not in sent
    assert len(events) == 3


@pytest.mark.usefixtures("worker")
async def test_a_two_factor_sign_in_is_counted_as_a_two_factor_login(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, stub: RunningStub
) -> None:
    clock = Clock(datetime(2026, 12, 3, 12, 0, 15, tzinfo=UTC))
    config = app.state.runtime.get(TwoFactorConfig)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(config, "clock", clock)
        phone = await turn_on(client, alice, clock)
        clock.advance()
        mfa_token = await challenge(client, alice)
        signed_in = await verify(client, mfa_token, code=phone.code(clock.now))
    assert signed_in.status_code == 200, signed_in.text

    events = await received(stub, 3)  # signup, login (password), login (two_factor)

    logins = [e["properties"] for e in events if e["event"] == "login"]
    assert sorted(own(p)["method"] for p in logins) == ["password", "two_factor"]
    assert {p["distinct_id"] for p in logins} == {alice.user_id}
    (two_factor,) = [p for p in logins if p["method"] == "two_factor"]
    assert own(two_factor) == {"method": "two_factor"}
    assert alice.email not in json.dumps(events)
    assert len(events) == 3
