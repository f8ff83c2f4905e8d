"""The local Stripe answers the official library (``sdk``) as Stripe does: its errors,
idempotency keys, objects and webhook signatures; so tests of Flint against it say something
about Flint against Stripe."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
import stripe as sdk

from tests.stubs import stripe_api as stripe_stub
from tests.stubs.server import RunningStub


@pytest.fixture
async def client(stub: RunningStub) -> AsyncIterator[sdk.StripeClient]:
    http = sdk.HTTPXClient()
    yield sdk.StripeClient(
        stripe_stub.SECRET_KEY, base_addresses={"api": stub.url}, http_client=http
    )
    await http.close_async()  # type: ignore[no-untyped-call]


async def test_a_wrong_key_is_an_authentication_error(stub: RunningStub) -> None:
    http = sdk.HTTPXClient()
    wrong = sdk.StripeClient("sk_test_wrong", base_addresses={"api": stub.url}, http_client=http)
    with pytest.raises(sdk.AuthenticationError) as refused:
        await wrong.v1.customers.create_async(params={"email": "a@example.com"})
    await http.close_async()  # type: ignore[no-untyped-call]
    assert refused.value.http_status == 401
    assert "Invalid API Key provided" in str(refused.value)


async def test_unknown_objects_and_missing_parameters_are_invalid_request_errors(
    client: sdk.StripeClient, stripe: stripe_stub.StripeControl
) -> None:
    with pytest.raises(sdk.InvalidRequestError) as unknown:
        await client.v1.subscriptions.retrieve_async("sub_nope")
    assert (unknown.value.http_status, unknown.value.code) == (404, "resource_missing")
    assert unknown.value.param == "id"

    with pytest.raises(sdk.InvalidRequestError) as missing:
        await client.v1.checkout.sessions.create_async(
            params={"mode": "subscription", "success_url": "https://x.example/ok"}
        )
    assert (missing.value.http_status, missing.value.code) == (400, "parameter_missing")
    assert missing.value.param == "line_items"

    with pytest.raises(sdk.InvalidRequestError) as no_customer:
        await client.v1.billing_portal.sessions.create_async(params={"customer": "cus_nope"})
    assert (no_customer.value.code, no_customer.value.param) == ("resource_missing", "customer")


async def test_an_idempotency_key_replays_the_first_answer_and_refuses_other_parameters(
    client: sdk.StripeClient, stripe: stripe_stub.StripeControl
) -> None:
    options: sdk.RequestOptions = {"idempotency_key": "key-1"}
    first = await client.v1.customers.create_async(
        params={"email": "a@example.com"}, options=options
    )
    again = await client.v1.customers.create_async(
        params={"email": "a@example.com"}, options=options
    )
    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["idempotent-replayed"] == "true"
    assert len(stripe.customers) == 1

    with pytest.raises(sdk.IdempotencyError):
        await client.v1.customers.create_async(params={"email": "b@example.com"}, options=options)


async def test_a_checkout_session_and_its_subscription_read_back_as_stripe_objects(
    client: sdk.StripeClient, stripe: stripe_stub.StripeControl
) -> None:
    customer = await client.v1.customers.create_async(params={"email": "a@example.com"})
    session = await client.v1.checkout.sessions.create_async(
        params={
            "mode": "subscription",
            "customer": customer.id,
            "line_items": [{"price": stripe_stub.PRICE_ID, "quantity": 1}],
            "success_url": "https://x.example/ok",
            "subscription_data": {"metadata": {"who": "alice"}},
        }
    )
    assert (session.object, session.status, session.customer) == (
        "checkout.session",
        "open",
        customer.id,
    )
    [created, *_] = stripe.complete_checkout(session.id)

    read = await client.v1.subscriptions.retrieve_async(created["data"]["object"]["id"])

    assert (read.status, read.customer, read.metadata.to_dict()) == (
        "active",
        customer.id,
        {"who": "alice"},
    )
    assert read["items"].data[0].price.id == stripe_stub.PRICE_ID
    assert read.last_response is not None
    assert read.last_response.headers["date"]


def test_the_stubs_signatures_are_stripes() -> None:
    payload = '{"id": "evt_1", "object": "event"}'
    at = int(time.time())
    header = stripe_stub.signature(payload, at=at)

    assert header == sdk.WebhookSignature.generate_signature_header(
        payload, stripe_stub.WEBHOOK_SECRET, timestamp=at
    )
    assert sdk.WebhookSignature.verify_header(payload, header, stripe_stub.WEBHOOK_SECRET, 300)
    with pytest.raises(sdk.SignatureVerificationError):
        sdk.WebhookSignature.verify_header(payload + " ", header, stripe_stub.WEBHOOK_SECRET, 300)


def test_stripes_form_encoding_decodes_to_the_objects_sent() -> None:
    raw = httpx.QueryParams(
        {
            "line_items[0][price]": "price_1",
            "line_items[0][quantity]": "1",
            "metadata[flint_user_id]": "u1",
            "mode": "subscription",
        }
    )
    assert stripe_stub.decode_form(str(raw)) == {
        "line_items": [{"price": "price_1", "quantity": "1"}],
        "metadata": {"flint_user_id": "u1"},
        "mode": "subscription",
    }
