"""The worker side of the webhook: each stored Stripe event handled once, and a user's
subscription never moved back to an older state by a late or repeated delivery.

Once: the event's row is locked and marked handled in the transaction that applies it, so a
second run of the task (a redelivered job, the sweep) finds it handled and does nothing.

Ordering: the subscription state kept carries ``version``, the Stripe time it describes.
A `customer.subscription.*` event carries the subscription as it was at the event's
``created``: older than the version held, it is stale and ignored; newer, it is applied. Within
the same second the order is unknown, so Flint reads the subscription from Stripe instead,
as it always does for the events that carry no subscription (`checkout.session.completed`,
`invoice.paid`, `invoice.payment_failed`); a state read from Stripe is versioned by the `Date`
of Stripe's answer, or the event's ``created`` if that is later (the read came after the
event). Two rules need no clock: a subscription that has ended (canceled,
incomplete_expired) never comes back, and a live subscription is never replaced by an ended
one of the same user.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint import webhooks
from flint.analytics import track
from flint.billing.models import BillingAccount, BillingEvent
from flint.billing.plans import ENDED, subscribed_plan
from flint.billing.vendor import Snapshot, StripeRefused
from flint.db import commit
from flint.kit.time import utcnow
from flint.notifications.api import NotificationKind, notify
from flint.users.api import User

if TYPE_CHECKING:
    from flint.billing.gateway import StripeGateway

log = structlog.get_logger(__name__)

HANDLE = "flint.billing.handle_event"
SUBSCRIPTION_EVENTS = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    }
)
READING_EVENTS = frozenset({"checkout.session.completed", "invoice.paid", "invoice.payment_failed"})
"""Events that name a subscription without carrying it: Flint reads it from Stripe."""
HANDLED = SUBSCRIPTION_EVENTS | READING_EVENTS
PAYMENT_TROUBLE = frozenset({"past_due", "unpaid", "incomplete"})
KEEP_HANDLED = timedelta(days=30)
"""How long a handled event's row is kept (Stripe retries a delivery for up to 3 days; an
event replayed after the row is gone is stale by then, and ignored)."""


class Verdict(StrEnum):
    APPLY = "applied"
    STALE = "stale"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Handling:
    """What handling events needs from the worker's runtime."""

    sessions: async_sessionmaker[AsyncSession]
    readers: async_sessionmaker[AsyncSession]
    gateway: StripeGateway
    premium_price_id: str | None


def _id(value: Any) -> str | None:
    """An id Stripe sends as a string or, expanded, as an object."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def subscription_named(event: Mapping[str, Any]) -> str | None:
    """The subscription an event is about (in the shapes of older and newer API versions)."""
    obj = event["data"]["object"]
    if event["type"] in SUBSCRIPTION_EVENTS:
        return _id(obj)
    if event["type"] == "checkout.session.completed":
        return _id(obj.get("subscription")) if obj.get("mode") == "subscription" else None
    named = _id(obj.get("subscription"))  # an invoice, before API version 2025-03-31
    if named is None:
        details = (obj.get("parent") or {}).get("subscription_details") or {}
        named = _id(details.get("subscription"))
    return named


def judge(account: BillingAccount, snapshot: Snapshot) -> Verdict:
    """Whether ``snapshot`` is newer than what ``account`` holds (see the module's rules)."""
    incoming, status = snapshot.data["id"], snapshot.data.get("status")
    if account.subscription_id is not None:
        held_ended = account.status in ENDED
        if account.subscription_id == incoming and held_ended:
            return Verdict.STALE
        if account.subscription_id != incoming and held_ended != (status in ENDED):
            return Verdict.STALE if status in ENDED else Verdict.APPLY
    if account.subscription_id is None or snapshot.version > account.version:
        return Verdict.APPLY
    if snapshot.version < account.version:
        return Verdict.STALE
    return Verdict.APPLY if snapshot.fetched else Verdict.AMBIGUOUS


def apply(account: BillingAccount, snapshot: Snapshot, premium_price_id: str | None) -> None:
    data = snapshot.data
    items = (data.get("items") or {}).get("data") or []
    prices = [_id(item.get("price")) for item in items]
    account.subscription_id = data["id"]
    account.status = str(data.get("status"))
    account.price_id = premium_price_id if premium_price_id in prices else next(iter(prices), None)
    # Newer API versions keep the period on the items, older ones on the subscription.
    ends = [data.get("current_period_end"), *(item.get("current_period_end") for item in items)]
    end = max((e for e in ends if isinstance(e, int)), default=None)
    account.current_period_end = datetime.fromtimestamp(end, UTC) if end is not None else None
    account.cancel_at_period_end = bool(data.get("cancel_at_period_end"))
    account.version = max(account.version, snapshot.version)


async def handle(ctx: Handling, event_id: str) -> str:
    """Handle the stored event ``event_id`` once; returns what was done. Stripe is read with
    no transaction open; ProviderError when it cannot be (the task retries)."""
    read = False
    for _ in range(3):
        async with ctx.readers() as session:
            row = await session.get(BillingEvent, event_id)
            if row is None or row.handled_at is not None:
                return "already handled"
            event = row.payload
        snapshot = await _snapshot(ctx, event, read=read)
        async with ctx.sessions() as session:
            outcome = await _settle(session, ctx, event_id, event, snapshot)
            if outcome is not None:
                await commit(session)
                log.info("stripe_event_handled", event_id=event_id, outcome=outcome)
                return outcome
        read = True  # the same second as the state held: ask Stripe
    raise RuntimeError(f"event {event_id} stayed ambiguous")  # pragma: no cover


async def _snapshot(ctx: Handling, event: Mapping[str, Any], *, read: bool) -> Snapshot | None:
    named = subscription_named(event)
    if named is None:
        return None
    if event["type"] in SUBSCRIPTION_EVENTS and not read:
        return Snapshot(data=dict(event["data"]["object"]), version=event["created"], fetched=False)
    try:
        fetched = await ctx.gateway.subscription(named)
    except StripeRefused as exc:
        if exc.code == "resource_missing":  # deleted at Stripe: nothing to know any more
            log.warning("stripe_subscription_missing", subscription=named)
            return None
        raise
    # Read after the event existed, so at least as new as it: Stripe's `Date` is to the second
    # and may lag the clock that stamped the event (a deletion in the same second as an update
    # was read with a Date a second behind, judged older, and the user kept a plan that ended).
    return replace(fetched, version=max(fetched.version, int(event["created"])))


async def _settle(
    session: AsyncSession,
    ctx: Handling,
    event_id: str,
    event: Mapping[str, Any],
    snapshot: Snapshot | None,
) -> str | None:
    """Apply ``snapshot`` and mark the event handled, in one transaction; None when the
    snapshot's second is the one held (read Stripe and come again)."""
    stmt = select(BillingEvent).where(BillingEvent.id == event_id).with_for_update()
    row = (await session.execute(stmt)).scalar_one()
    if row.handled_at is not None:
        return "already handled"
    if snapshot is None:
        outcome = "ignored: no subscription"
    else:
        account = await _account(session, event, snapshot)
        if account is None:
            outcome = "ignored: unknown customer"
        else:
            verdict = judge(account, snapshot)
            if verdict is Verdict.AMBIGUOUS:
                return None
            if verdict is Verdict.APPLY:
                await _apply_and_track(session, account, snapshot, ctx.premium_price_id)
            outcome = verdict.value
            if event["type"] == "invoice.payment_failed":
                await _tell_payment_failed(session, account, event["data"]["object"])
    row.handled_at = utcnow()
    row.outcome = outcome
    await session.flush()
    return outcome


async def _apply_and_track(
    session: AsyncSession,
    account: BillingAccount,
    snapshot: Snapshot,
    premium_price_id: str | None,
) -> None:
    """`apply`, counting a change of plan or status as a `subscription_changed` event."""
    before = (subscribed_plan(account, premium_price_id), account.status)
    apply(account, snapshot, premium_price_id)
    plan = subscribed_plan(account, premium_price_id)
    if (plan, account.status) != before:
        properties: dict[str, str | bool | int] = {
            "plan": plan,
            "status": account.status or "unknown",
        }
        await track(session, account.user_id, "subscription_changed", properties)


async def _account(
    session: AsyncSession, event: Mapping[str, Any], snapshot: Snapshot
) -> BillingAccount | None:
    """The billing row of the user the event is about, locked: found by Stripe customer, or
    for a completed checkout by the user id Flint gave it (binding the customer)."""
    customer = _id(snapshot.data.get("customer")) or _id(event["data"]["object"].get("customer"))
    if customer is not None:
        stmt = select(BillingAccount).where(BillingAccount.customer_id == customer)
        found = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
        if found is not None:
            return found
    if event["type"] != "checkout.session.completed" or customer is None:
        return None
    try:
        user_id = uuid.UUID(str(event["data"]["object"].get("client_reference_id")))
    except ValueError:
        return None
    if await session.get(User, user_id) is None:
        return None
    stmt = select(BillingAccount).where(BillingAccount.user_id == user_id).with_for_update()
    account = (await session.execute(stmt)).scalar_one_or_none()
    if account is None:
        account = BillingAccount(user_id=user_id, version=0, cancel_at_period_end=False)
        session.add(account)
    if account.customer_id not in (None, customer):
        log.warning("stripe_checkout_other_customer", held=account.customer_id, event=customer)
        return None
    account.customer_id = customer
    await session.flush()
    return account


async def _tell_payment_failed(
    session: AsyncSession, account: BillingAccount, invoice: Mapping[str, Any]
) -> None:
    """Tell the user, unless the subscription is in good standing again by now (a late
    delivery of a failure since put right)."""
    if account.status not in PAYMENT_TROUBLE:
        return
    number = invoice.get("number") or _id(invoice) or "your latest invoice"
    await notify(
        session,
        user_id=account.user_id,
        kind=NotificationKind.BILLING,
        title="Your premium payment failed",
        body=(
            f"Stripe could not take the payment for {number}. Your subscription is "
            f"{account.status.replace('_', ' ')}; Stripe tries again over the next days, and "
            "if it cannot, your account moves to the free plan (you keep what you have). "
            "Update your payment method in the billing portal to keep premium."
        ),
        data={
            "subscriptionId": account.subscription_id,
            "status": account.status,
            "invoiceId": _id(invoice),
            "hostedInvoiceUrl": invoice.get("hosted_invoice_url"),
        },
    )


async def pending(session: AsyncSession, older_than: timedelta) -> list[str]:
    """Events stored but not handled for ``older_than``: their job was lost."""
    return await webhooks.pending(session, BillingEvent, older_than)


async def prune(session: AsyncSession) -> int:
    """Forget handled events older than :data:`KEEP_HANDLED`."""
    return await webhooks.prune(session, BillingEvent, KEEP_HANDLED)
