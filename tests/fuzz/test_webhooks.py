"""The vendors' webhook readers over arbitrary bodies and signatures, and over signed
arbitrary and mutated events: SnapTrade's `verify_webhook` and Stripe's `StripeGateway.verify`
give an event or `WebhookRefused` (the route's 400), never anything else. The routes
themselves are fuzzed in test_http.py."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from flint.billing.gateway import StripeGateway
from flint.brokerage.snaptrade.webhooks import SnapTradeEvent, verify_webhook, webhook_signature
from flint.config import Settings
from flint.webhooks import WebhookRefused
from tests.fuzz.support import fuzz, json_bytes, json_values, mutated_json
from tests.stubs import stripe_api as stripe_stub

KEY, CLIENT = "consumer-key", "FLINT-TEST"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SAMPLES = Path(__file__).parent.parent / "stubs" / "samples"
SNAPTRADE_EVENT = {
    "webhookId": "5a1f3c2e-8b9d-4e7f-a6c5-1d2e3f4a5b6c",
    "eventType": "CONNECTION_BROKEN",
    "userId": "0b6f3b58-1c3a-4f4e-9e4b-1b7f0c2d3e4f",
    "clientId": CLIENT,
    "eventTimestamp": (NOW - timedelta(seconds=5)).isoformat(),
    "brokerageAuthorizationId": "87b24961-b51e-4db8-9226-f198f6518a89",
    "accountId": "917c8734-8470-4a3e-a18f-57c3f2ee6631",
}
NESTED = b"[" * 100_000 + b"]" * 100_000
headers = st.one_of(st.none(), st.text(max_size=60), st.sampled_from(["", "t=1,v1=00", "x" * 500]))


def snaptrade(body: bytes, signature: str | None) -> SnapTradeEvent | None:
    try:
        event = verify_webhook(KEY, CLIENT, body, signature, now=NOW)
    except WebhookRefused as exc:
        refused(str(exc), KEY)
        return None
    assert event.webhook_id
    assert len(event.webhook_id) <= 64
    assert event.occurred_at.tzinfo is not None
    return event


def refused(why: str, secret: str) -> None:
    """A refusal says why, and never the secret."""
    assert why
    assert secret not in why


def signed(payload: Any) -> tuple[bytes, str]:
    return json.dumps(payload).encode(), webhook_signature(KEY, payload)


@fuzz(150)
@given(body=st.one_of(st.binary(max_size=200), json_values.map(json_bytes)), signature=headers)
def test_snaptrade_refuses_what_it_did_not_sign(body: bytes, signature: str | None) -> None:
    assert snaptrade(body, signature) is None


@fuzz(150)
@given(payload=json_values)
def test_snaptrade_reads_or_refuses_any_signed_json(payload: Any) -> None:
    snaptrade(*signed(payload))


@fuzz(200)
@given(payload=mutated_json(SNAPTRADE_EVENT, 3))
def test_snaptrade_reads_or_refuses_a_mutated_signed_event(payload: Any) -> None:
    snaptrade(*signed(payload))


def test_snaptrade_reads_the_event_the_mutations_start_from() -> None:
    assert snaptrade(*signed(SNAPTRADE_EVENT)) is not None


def test_snaptrade_refuses_deeply_nested_json_unsigned_and_signed() -> None:
    assert snaptrade(NESTED, "x") is None
    assert snaptrade(NESTED, webhook_signature(KEY, [])) is None


# --- Stripe -----------------------------------------------------------------------------------


def gateway() -> StripeGateway:
    settings = Settings(
        _env_file=None,
        env="test",
        stripe_secret_key=stripe_stub.SECRET_KEY,
        stripe_webhook_secret=stripe_stub.WEBHOOK_SECRET,
        stripe_premium_price_id=stripe_stub.PRICE_ID,
    )
    return StripeGateway(settings)


GATEWAY = gateway()
STRIPE_EVENT = json.loads((SAMPLES / "stripe_event_customer_subscription_updated.json").read_text())


def stripe(body: bytes, signature: str | None) -> dict[str, Any] | None:
    try:
        event = GATEWAY.verify(body, signature)
    except WebhookRefused as exc:
        refused(str(exc), stripe_stub.WEBHOOK_SECRET)
        return None
    assert isinstance(event["id"], str)
    assert 0 < len(event["id"]) <= 255  # the inbox's key column
    assert type(event["created"]) is int
    assert 0 <= event["created"] < 2**63  # a 64-bit column
    return event


@fuzz(150)
@given(body=st.one_of(st.binary(max_size=200), json_values.map(json_bytes)), signature=headers)
def test_stripe_refuses_what_it_did_not_sign(body: bytes, signature: str | None) -> None:
    assert stripe(body, signature) is None


@fuzz(150)
@given(payload=st.one_of(json_values, mutated_json(STRIPE_EVENT, 3)))
def test_stripe_reads_or_refuses_any_signed_json(payload: Any) -> None:
    body = json_bytes(payload)
    stripe(body, stripe_stub.signature(body))


@fuzz(40)
@given(body=st.binary(max_size=200))
def test_stripe_reads_or_refuses_any_signed_bytes(body: bytes) -> None:
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return  # the stub signs text, as Stripe does
    stripe(body, stripe_stub.signature(text))


def test_stripe_reads_the_event_the_mutations_start_from() -> None:
    body = json_bytes(STRIPE_EVENT)
    assert stripe(body, stripe_stub.signature(body)) is not None


def test_stripe_refuses_deeply_nested_json_unsigned_and_signed() -> None:
    assert stripe(NESTED, "t=1,v1=00") is None
    assert stripe(NESTED, stripe_stub.signature(NESTED)) is None


def teardown_module() -> None:
    asyncio.run(GATEWAY.aclose())
