from __future__ import annotations

from fastapi import APIRouter, Request, status

from flint.billing import service
from flint.billing.deps import BillingDep, PlansDep
from flint.billing.plans import Limit
from flint.billing.schemas import (
    CheckoutSessionOut,
    PlanLimits,
    PlanUsage,
    PortalSessionOut,
    SubscriptionOut,
    WebhookReceived,
)
from flint.errors import problem_responses
from flint.users.api import SESSION, CurrentUser, CurrentUserId
from flint.web import ReadSessionDep, SessionDep

router = APIRouter(prefix="/billing", tags=["billing"])

NOT_CONFIGURED = " On a server without Stripe (`FLINT_STRIPE_SECRET_KEY` unset): 503."


@router.post(
    "/checkout-session",
    status_code=status.HTTP_201_CREATED,
    summary="Start a Stripe Checkout for the premium plan",
    description="Answers the Checkout Session's id and the URL to send the user to. Your Stripe "
    "customer is made on the first checkout and reused after. Once paid, Stripe's webhook "
    "moves you to premium within seconds. 409 while you have a subscription in good standing "
    "(change or cancel it in the portal). Not with an API key: paying is for a signed-in "
    "person." + NOT_CONFIGURED,
    responses=problem_responses(401, 403, 409, 503),
    openapi_extra=SESSION,
)
async def start_checkout(
    user: CurrentUser, session: SessionDep, billing: BillingDep
) -> CheckoutSessionOut:
    session_id, url = await service.checkout(session, billing, user)
    return CheckoutSessionOut(session_id=session_id, url=url)


@router.post(
    "/portal-session",
    summary="Open Stripe's customer portal",
    description="Answers the URL of a portal session where you update your payment method, "
    "see invoices and cancel. 409 if you never started a checkout (you have no Stripe "
    "customer yet). Not with an API key: the portal changes payment and cancels." + NOT_CONFIGURED,
    responses=problem_responses(401, 403, 409, 503),
    openapi_extra=SESSION,
)
async def open_portal(
    user_id: CurrentUserId, session: SessionDep, billing: BillingDep
) -> PortalSessionOut:
    return PortalSessionOut(url=await service.portal(session, billing, user_id))


@router.get(
    "/subscription",
    summary="Your plan, subscription, limits and usage",
    description="Works on every server: without Stripe everyone has `FLINT_DEFAULT_PLAN` "
    "(premium unless set). Beyond a limit, creating one more answers 403 with a problem "
    "whose `type` ends `/plan-limit` and which names the `limit`, what is `allowed`, your "
    "`usage` and the plan that lifts it (`upgradeTo`). What you hold beyond a limit after a "
    "downgrade stays, and can be read and deleted.",
    responses=problem_responses(401),
)
async def read_subscription(
    user_id: CurrentUserId, session: ReadSessionDep, plans: PlansDep
) -> SubscriptionOut:
    standing = await service.standing(session, plans, user_id)
    account = standing.account
    return SubscriptionOut(
        plan=standing.plan,
        billing_enabled=plans.billing_enabled,
        status=account.status if account else None,
        current_period_end=account.current_period_end if account else None,
        cancel_at_period_end=account.cancel_at_period_end if account else False,
        limits=PlanLimits(**{limit.value: standing.limits[limit] for limit in Limit}),
        usage=PlanUsage(**{limit.value: standing.usage[limit] for limit in Limit}),
    )


@router.post(
    "/webhook",
    summary="Stripe's webhook (called by Stripe, not by users)",
    description="Register this URL in Stripe for `checkout.session.completed`, "
    "`customer.subscription.created`, `.updated`, `.deleted`, `invoice.paid` and "
    "`invoice.payment_failed`. The body is Stripe's event, checked against its "
    "`Stripe-Signature` with `FLINT_STRIPE_WEBHOOK_SECRET` (at most 300 s old): anything else "
    "is 400 and nothing is kept. Each event is handled once, by a worker, whatever the number "
    "of deliveries; the answer comes at once." + NOT_CONFIGURED,
    responses=problem_responses(400, 413, 503),
)
async def webhook(request: Request, session: SessionDep, billing: BillingDep) -> WebhookReceived:
    payload = await request.body()  # the raw bytes: the signature is over them
    await service.receive(session, billing, payload, request.headers.get("stripe-signature"))
    return WebhookReceived()
