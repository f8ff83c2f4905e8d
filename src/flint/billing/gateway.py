"""Flint's side of Stripe, through the official library: customers, Checkout and portal
sessions, reading a subscription, and verifying a webhook's signature.

Calls go through `stripe.StripeClient` on its asynchronous HTTPX client, so none blocks the
event loop; the library retries connection errors, 409s, 429s and 5xx with Stripe's
idempotency keys. `FLINT_STRIPE_API_BASE` points it elsewhere (tests use a local stub). Every
failure becomes a `ProviderError`: `StripeRefused` for an answer about what was asked (a
customer that no longer exists), `ProviderUnavailable` when Stripe could not answer.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import stripe
import structlog

from flint.billing.vendor import PROVIDER, Snapshot, StripeRefused, WebhookRefused
from flint.config import Settings
from flint.kit.vendor_errors import ProviderUnavailable

log = structlog.get_logger(__name__)

TOLERANCE_SECONDS = 300
"""How old a signed webhook may be (Stripe's default): an older replay is refused."""


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        assert settings.stripe_secret_key is not None
        assert settings.stripe_webhook_secret is not None
        self._http = stripe.HTTPXClient(
            timeout=httpx.Timeout(
                settings.vendor_read_timeout, connect=settings.vendor_connect_timeout
            )
        )
        self.client = stripe.StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses={"api": settings.stripe_api_base},
            max_network_retries=settings.vendor_retry_attempts - 1,
            http_client=self._http,
        )
        self._webhook_secret = settings.stripe_webhook_secret.get_secret_value()

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    # --- webhooks ------------------------------------------------------------------------------

    def verify(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event in ``payload`` once its `Stripe-Signature` is checked against the
        endpoint's secret and found recent; WebhookRefused otherwise."""
        try:
            # Only the signature: stripe's construct_event also builds its own event object,
            # which fails with AttributeError on a signed body that is JSON but not an object.
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, TOLERANCE_SECONDS
            )
            event = json.loads(payload)
        except stripe.SignatureVerificationError as exc:
            raise WebhookRefused(str(exc._message or "bad signature")) from exc
        except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON or too deep, signed
            raise WebhookRefused("the body is not a JSON event") from exc
        if not (
            isinstance(event, dict)
            and _event_id(event.get("id"))
            and isinstance(event.get("type"), str)
            and _unix_seconds(event.get("created"))
            and isinstance(event.get("data"), dict)
            and isinstance(event["data"].get("object"), dict)
        ):
            raise WebhookRefused("the body is not a Stripe event")
        return event

    # --- calls -----------------------------------------------------------------------------------

    async def create_customer(self, *, user_id: str, email: str, replacing: str | None) -> str:
        """A customer for the user. The idempotency key makes a retry, or a checkout whose
        transaction was rolled back, return the same customer within Stripe's 24 hours; a
        customer ``replacing`` one deleted at Stripe gets a key of its own."""
        key = f"flint-customer-{user_id}" + (f"-replacing-{replacing}" if replacing else "")
        customer = await self._call(
            self.client.v1.customers.create_async(
                params={"email": email, "metadata": {"flint_user_id": user_id}},
                options={"idempotency_key": key},
            )
        )
        return str(customer.id)

    async def checkout(
        self, *, customer: str, price: str, user_id: str, success_url: str, cancel_url: str
    ) -> tuple[str, str]:
        """A subscription-mode Checkout Session for ``customer``; (its id, its URL)."""
        session = await self._call(
            self.client.v1.checkout.sessions.create_async(
                params={
                    "mode": "subscription",
                    "customer": customer,
                    "client_reference_id": user_id,
                    "line_items": [{"price": price, "quantity": 1}],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "metadata": {"flint_user_id": user_id},
                    "subscription_data": {"metadata": {"flint_user_id": user_id}},
                }
            )
        )
        if not session.url:
            raise ProviderUnavailable(PROVIDER, "Stripe made a checkout session without a URL")
        return str(session.id), str(session.url)

    async def portal(self, *, customer: str, return_url: str) -> str:
        """The URL of a customer-portal session for ``customer``."""
        session = await self._call(
            self.client.v1.billing_portal.sessions.create_async(
                params={"customer": customer, "return_url": return_url}
            )
        )
        return str(session.url)

    async def delete_customer(self, customer: str) -> None:
        """Delete the customer, which ends its subscriptions at once (no further charge; Stripe
        keeps the invoices). One Stripe no longer has is deleted already."""
        try:
            await self._call(self.client.v1.customers.delete_async(customer))
        except StripeRefused as exc:
            if exc.code != "resource_missing":
                raise
        log.info("stripe_customer_deleted")

    async def subscription(self, subscription_id: str) -> Snapshot:
        """The subscription as it is now. Its version is the `Date` of Stripe's answer: no
        event created before that second can describe a newer state."""
        found = await self._call(self.client.v1.subscriptions.retrieve_async(subscription_id))
        data = found.to_dict()
        response = found.last_response
        version = _date_of(response.headers if response is not None else {})
        return Snapshot(data=data, version=version or int(time.time()), fetched=True)

    async def _call(self, call: Any) -> Any:
        try:
            return await call
        except stripe.InvalidRequestError as exc:
            raise StripeRefused(_message(exc), code=exc.code, param=exc.param) from exc
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            log.error("stripe_refused_key", status=exc.http_status, reason=_message(exc))
            raise ProviderUnavailable(PROVIDER, "Stripe refused Flint's API key") from exc
        except stripe.StripeError as exc:
            log.warning("stripe_unavailable", status=exc.http_status, reason=_message(exc))
            raise ProviderUnavailable(PROVIDER, "Stripe did not answer; try again") from exc


def _message(exc: stripe.StripeError) -> str:
    return (exc._message or type(exc).__name__)[:300]


def _date_of(headers: Any) -> int | None:
    raw = headers.get("date") or headers.get("Date")
    if not raw:
        return None
    try:
        return int(parsedate_to_datetime(raw).timestamp())
    except (TypeError, ValueError):
        return None


EVENT_ID_MAX = 255
"""The longest event id kept (the inbox's key column; Stripe's are about 30 characters)."""


def _event_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= EVENT_ID_MAX and "\x00" not in value


def _unix_seconds(value: object) -> bool:
    """A time in whole seconds since 1970 that a 64-bit column holds (``True`` is an int to
    Python, and no time)."""
    return type(value) is int and 0 <= value < 2**63
