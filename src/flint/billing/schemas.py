"""Billing's request-free API: what the endpoints answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from flint.billing.plans import PlanName
from flint.kit.schema import ApiModel
from flint.webhooks import WebhookReceived

__all__ = [
    "CheckoutSessionOut",
    "PlanLimits",
    "PlanUsage",
    "PortalSessionOut",
    "SubscriptionOut",
    "WebhookReceived",
]


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

    connections: int | None = Field(description="Linked connections (account links).", examples=[1])
    watchlist: int | None = Field(examples=[20])
    portfolios: int | None = Field(examples=[2])
    alerts: int | None = Field(
        description="Price alerts (`FLINT_ALERTS_MAX_PER_USER` caps every plan besides).",
        examples=[5],
    )
    pdf_reports: int | None = Field(
        description="PDF reports kept; CSV and HTML are not limited.", examples=[3]
    )


class PlanUsage(ApiModel):
    """What the user holds now."""

    connections: int = Field(examples=[1])
    watchlist: int = Field(examples=[12])
    portfolios: int = Field(examples=[1])
    alerts: int = Field(examples=[3])
    pdf_reports: int = Field(examples=[0])


class SubscriptionOut(ApiModel):
    plan: PlanName
    billing_enabled: bool = Field(
        description="False on a server without Stripe: everyone has its default plan.",
        examples=[True],
    )
    status: str | None = Field(
        description="Stripe's subscription status (`active`, `trialing`, `past_due`, "
        "`canceled`, ...); null without a subscription.",
        examples=["active"],
    )
    current_period_end: datetime | None = Field(examples=["2024-07-03T14:30:00Z"])
    cancel_at_period_end: bool = Field(examples=[False])
    limits: PlanLimits
    usage: PlanUsage
