"""The request side of billing: start a checkout, open the customer portal, tell a user their
plan, and take in Stripe's webhooks (verified, stored once per event id, handled by a worker:
`flint.billing.events`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint import jobs
from flint.billing.events import HANDLE, HANDLED
from flint.billing.models import BillingAccount, BillingEvent
from flint.billing.plans import GOOD_STANDING, Limit, PlanName, Plans
from flint.billing.vendor import StripeRefused, WebhookRefused
from flint.config import Settings
from flint.db import dialect_insert
from flint.errors import BadRequest, Conflict, ServiceUnavailable
from flint.kit.vendor_errors import ProviderError
from flint.users.api import User
from flint.webhooks import store_once

if TYPE_CHECKING:
    from flint.billing.gateway import StripeGateway

log = structlog.get_logger(__name__)

NOT_CONFIGURED = "Billing is not configured on this server (FLINT_STRIPE_SECRET_KEY is unset)."


@dataclass(frozen=True)
class Billing:
    """The runtime part of billing: Stripe (None when not configured) and where Stripe sends
    users back to."""

    gateway: StripeGateway | None
    premium_price_id: str | None
    success_url: str
    cancel_url: str
    portal_return_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Billing:
        """Stripe's library is loaded only on a server with billing."""
        gateway = None
        if settings.billing_enabled:
            from flint.billing.gateway import StripeGateway

            gateway = StripeGateway(settings)
        public = settings.resolved_public_url
        return cls(
            gateway=gateway,
            premium_price_id=settings.stripe_premium_price_id,
            success_url=settings.stripe_success_url
            or f"{public}/billing/success?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=settings.stripe_cancel_url or f"{public}/billing/cancel",
            portal_return_url=settings.stripe_portal_return_url or f"{public}/billing/return",
        )

    def require(self) -> StripeGateway:
        """Stripe, or 503 when this server has no billing."""
        if self.gateway is None:
            raise ServiceUnavailable(NOT_CONFIGURED)
        return self.gateway

    async def aclose(self) -> None:
        if self.gateway is not None:
            await self.gateway.aclose()


def _unavailable(exc: ProviderError, *, commit: bool = False) -> ServiceUnavailable:
    detail = f"Stripe is unavailable right now ({exc.reason}); try again."
    return ServiceUnavailable(detail, commit=commit)


async def _locked_account(session: AsyncSession, user_id: uuid.UUID) -> BillingAccount:
    """The user's billing row, made if missing (insert first, so two concurrent checkouts
    find one row) and locked: the second waits, then finds the customer the first made."""
    await session.execute(
        dialect_insert(session)(BillingAccount)
        .values(user_id=user_id)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    stmt = (
        select(BillingAccount)
        .where(BillingAccount.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


async def checkout(session: AsyncSession, billing: Billing, user: User) -> tuple[str, str]:
    """A Checkout Session for premium: (its id, the URL to send the user to). The user's
    Stripe customer is made on the first checkout and kept; 409 while a subscription is in
    good standing (it is changed or cancelled in the portal)."""
    gateway = billing.require()
    assert billing.premium_price_id is not None  # Settings requires it with the key
    account = await _locked_account(session, user.id)
    if account.status in GOOD_STANDING:
        raise Conflict(
            f"You already have a subscription ({account.status}); change or cancel it in the "
            "customer portal: POST /api/v1/billing/portal-session."
        )
    replaced: str | None = None
    for _ in range(2):
        try:
            if account.customer_id is None:
                account.customer_id = await gateway.create_customer(
                    user_id=str(user.id), email=user.email, replacing=replaced
                )
                await session.flush()
            return await gateway.checkout(
                customer=account.customer_id,
                price=billing.premium_price_id,
                user_id=str(user.id),
                success_url=billing.success_url,
                cancel_url=billing.cancel_url,
            )
        except StripeRefused as exc:
            if exc.code == "resource_missing" and exc.param == "customer" and replaced is None:
                # The customer was deleted in Stripe's dashboard: make the user a new one.
                log.warning("stripe_customer_missing", customer=account.customer_id)
                replaced, account.customer_id = account.customer_id, None
                continue
            log.error("stripe_checkout_refused", reason=exc.reason, code=exc.code)
            raise ServiceUnavailable(
                "Stripe refused to start a checkout; this server's billing settings need "
                "attention.",
                commit=True,  # keep the customer made
            ) from exc
        except ProviderError as exc:
            raise _unavailable(exc, commit=True) from exc
    raise ServiceUnavailable("Stripe refused to start a checkout; try again.", commit=True)


async def portal(session: AsyncSession, billing: Billing, user_id: uuid.UUID) -> str:
    """The URL of the customer portal (payment method, invoices, cancelling); 409 for a user
    who never started a checkout, so has no Stripe customer."""
    gateway = billing.require()
    account = await session.get(BillingAccount, user_id)
    if account is None or account.customer_id is None:
        raise Conflict(
            "You have no billing account yet: subscribe first "
            "(POST /api/v1/billing/checkout-session)."
        )
    try:
        return await gateway.portal(
            customer=account.customer_id, return_url=billing.portal_return_url
        )
    except StripeRefused as exc:
        log.error("stripe_portal_refused", reason=exc.reason, code=exc.code)
        raise ServiceUnavailable(
            "Stripe refused to open the customer portal; this server's billing settings need "
            "attention."
        ) from exc
    except ProviderError as exc:
        raise _unavailable(exc) from exc


@dataclass(frozen=True)
class Standing:
    """What `GET /billing/subscription` tells: the plan, the subscription, limits and usage."""

    plan: PlanName
    account: BillingAccount | None
    limits: dict[Limit, int | None]
    usage: dict[Limit, int]


async def standing(session: AsyncSession, plans: Plans, user_id: uuid.UUID) -> Standing:
    plan = await plans.plan_of(session, user_id)
    account = await session.get(BillingAccount, user_id) if plans.billing_enabled else None
    return Standing(
        plan=plan,
        account=account,
        limits=dict(plans.limits[plan]),
        usage=await plans.usage(session, user_id),
    )


async def receive(
    session: AsyncSession, billing: Billing, payload: bytes, signature: str | None
) -> bool:
    """Take in one webhook delivery: verified (400 otherwise, nothing stored), stored under
    its event id if Flint handles its kind, and handed to a worker after the commit. True
    when this delivery was the first of its event; a repeat inserts nothing and sends
    nothing (concurrent repeats wait for the first insert, then find it)."""
    gateway = billing.require()
    try:
        event = gateway.verify(payload, signature)
    except WebhookRefused as exc:
        raise BadRequest(f"Not a webhook from Stripe: {exc}.") from exc
    if event["type"] not in HANDLED:
        return False
    first = await store_once(
        session,
        BillingEvent,
        id=event["id"],
        type=event["type"],
        created=event["created"],
        payload=event,
    )
    if first:
        jobs.enqueue(session, HANDLE, event["id"])
    log.info("stripe_event_received", event_id=event["id"], type=event["type"], first=first)
    return first


async def let_go(session: AsyncSession, billing: Billing, user_id: uuid.UUID) -> None:
    """Before the user is deleted: their Stripe customer deleted, which ends its subscriptions
    at once, so nobody is charged for an account that is gone. 503 when Stripe cannot be
    reached or refuses (the account stays, and is charged as before). A server without
    billing cannot ask Stripe: a customer it made while it had billing is logged and left."""
    stmt = select(BillingAccount).where(BillingAccount.user_id == user_id).with_for_update()
    account = (await session.execute(stmt)).scalar_one_or_none()
    if account is None or account.customer_id is None:
        return
    if billing.gateway is None:
        log.warning("closing_stripe_customer_left", reason="billing is not configured")
        return
    try:
        await billing.gateway.delete_customer(account.customer_id)
    except ProviderError as exc:
        raise _unavailable(exc) from exc
