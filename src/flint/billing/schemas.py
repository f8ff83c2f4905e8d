"""Billing's request-free API: what the endpoints answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from flint.billing.plans import PlanName
from flint.kit.schema import ApiModel


class CheckoutSessionOut(ApiModel):
    session_id: str = Field(
        examples=["cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY"]
    )
    url: str = Field(
        description="Stripe Checkout's page: send the user there to pay.",
        examples=["https://checkout.stripe.com/c/pay/cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41"],
    )


class PortalSessionOut(ApiModel):
    url: str = Field(
        description="The customer portal: payment method, invoices, cancelling.",
        examples=["https://billing.stripe.com/p/session/test_YWNjdF8xTjRRbWJGZ3c"],
    )


class PlanLimits(ApiModel):
    """What the plan allows of each; null is unlimited."""

    connections: int | None = Field(description="Linked connections (account links).")
    watchlist: int | None
    portfolios: int | None
    alerts: int | None = Field(
        description="Price alerts (`FLINT_ALERTS_MAX_PER_USER` caps every plan besides)."
    )
    pdf_reports: int | None = Field(description="PDF reports kept; CSV and HTML are not limited.")


class PlanUsage(ApiModel):
    """What the user holds now."""

    connections: int
    watchlist: int
    portfolios: int
    alerts: int
    pdf_reports: int


class SubscriptionOut(ApiModel):
    plan: PlanName
    billing_enabled: bool = Field(
        description="False on a server without Stripe: everyone has its default plan."
    )
    status: str | None = Field(
        description="Stripe's subscription status (`active`, `trialing`, `past_due`, "
        "`canceled`, ...); null without a subscription."
    )
    current_period_end: datetime | None
    cancel_at_period_end: bool
    limits: PlanLimits
    usage: PlanUsage


class WebhookReceived(ApiModel):
    received: bool = Field(default=True, examples=[True])
