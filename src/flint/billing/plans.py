"""Plans, what each allows, which one a user is on, and the check that refuses one more item
over a limit.

The check runs in the transaction that adds the item, after locking the user's row on
PostgreSQL (`FOR NO KEY UPDATE`; SQLite runs one writer at a time), so concurrent adds at one
below the limit make exactly one. The features that own the items (accounts, watchlist,
portfolios, alerts, reports) sit above billing: they call :meth:`Plans.enforce` where an item is
created, and tell billing how to count their items through :attr:`Plans.counters`, a hook the
composition root fills in.

Limits are counts of what a user holds now: a user who falls back to a smaller plan keeps what
they have (it can be read and deleted) but may add nothing more until they are under it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from flint.billing.models import BillingAccount
from flint.config import Settings
from flint.errors import PlanLimitReached
from flint.users.api import lock_user


class PlanName(StrEnum):
    FREE = "free"
    PREMIUM = "premium"


class Limit(StrEnum):
    """What a plan limits; the values are the names used in `FLINT_PLAN_LIMITS`."""

    CONNECTIONS = "connections"
    """Linked connections (account links) held, broken ones included."""
    WATCHLIST = "watchlist"
    PORTFOLIOS = "portfolios"
    ALERTS = "alerts"
    PDF_REPORTS = "pdf_reports"
    """PDF reports held (CSV and HTML reports are not limited)."""

    @property
    def key(self) -> str:
        """The name in JSON (camelCase, as the API speaks)."""
        head, *rest = self.value.split("_")
        return head + "".join(part.title() for part in rest)


UPGRADE_ORDER: tuple[PlanName, ...] = (PlanName.FREE, PlanName.PREMIUM)
"""Cheapest first: the plan named as lifting a limit is the cheapest that does."""

DEFAULT_LIMITS: Mapping[PlanName, Mapping[Limit, int | None]] = {
    PlanName.FREE: {
        Limit.CONNECTIONS: 2,
        Limit.WATCHLIST: 25,
        Limit.PORTFOLIOS: 2,
        Limit.ALERTS: 5,
        Limit.PDF_REPORTS: 0,
    },
    PlanName.PREMIUM: dict.fromkeys(Limit),
}
"""None is unlimited."""

WORDS: Mapping[Limit, str] = {
    Limit.CONNECTIONS: "linked connections",
    Limit.WATCHLIST: "watchlist items",
    Limit.PORTFOLIOS: "portfolios",
    Limit.ALERTS: "price alerts",
    Limit.PDF_REPORTS: "PDF reports",
}

GOOD_STANDING = frozenset({"active", "trialing", "past_due"})
"""Subscription statuses that keep the plan: `past_due` too, while Stripe retries the payment
(it cancels the subscription, or marks it unpaid, when it gives up)."""
ENDED = frozenset({"canceled", "incomplete_expired"})
"""Statuses a subscription never leaves."""

Counter = Callable[[AsyncSession, uuid.UUID], Awaitable[int]]
"""How many of one limited thing a user holds now (the owning feature counts)."""


def catalog(settings: Settings) -> dict[PlanName, dict[Limit, int | None]]:
    """The defaults with `FLINT_PLAN_LIMITS` applied."""
    limits = {plan: dict(values) for plan, values in DEFAULT_LIMITS.items()}
    for plan, changes in settings.plan_limits.items():
        for name, value in changes.items():
            limits[PlanName(plan)][Limit(name)] = value
    return limits


def subscribed_plan(account: BillingAccount | None, premium_price_id: str | None) -> PlanName:
    """The plan a Stripe subscription gives: premium while the premium price's subscription
    is in good standing, free otherwise (none, ended, unpaid, or another price)."""
    if account is None or account.status not in GOOD_STANDING:
        return PlanName.FREE
    if premium_price_id is not None and account.price_id == premium_price_id:
        return PlanName.PREMIUM
    return PlanName.FREE


@dataclass
class Plans:
    """The runtime part every feature that creates limited things uses (`PlansDep`)."""

    limits: Mapping[PlanName, Mapping[Limit, int | None]]
    billing_enabled: bool
    default_plan: PlanName
    premium_price_id: str | None
    counters: dict[Limit, Counter] = field(default_factory=dict)
    """Filled in by the composition root: one counter per limit, from the owning feature."""

    @classmethod
    def from_settings(cls, settings: Settings, counters: Mapping[Limit, Counter]) -> Plans:
        return cls(
            limits=catalog(settings),
            billing_enabled=settings.billing_enabled,
            default_plan=PlanName(settings.default_plan),
            premium_price_id=settings.stripe_premium_price_id,
            counters=dict(counters),
        )

    async def plan_of(self, session: AsyncSession, user_id: uuid.UUID) -> PlanName:
        """Without billing everyone has the default plan; with it, what their subscription
        gives."""
        if not self.billing_enabled:
            return self.default_plan
        account = await session.get(BillingAccount, user_id)
        return subscribed_plan(account, self.premium_price_id)

    def lifting(self, limit: Limit, usage: int) -> PlanName | None:
        """The cheapest plan under which one more would be allowed."""
        for plan in UPGRADE_ORDER:
            allowed = self.limits[plan][limit]
            if allowed is None or allowed > usage:
                return plan
        return None

    async def usage(self, session: AsyncSession, user_id: uuid.UUID) -> dict[Limit, int]:
        return {limit: await self.counters[limit](session, user_id) for limit in Limit}

    async def enforce(
        self, session: AsyncSession, user_id: uuid.UUID, limit: Limit, *, added: int = 0
    ) -> None:
        """Refuse (403 `/plan-limit`) one more of ``limit`` beyond the user's plan. Call it in
        the transaction that adds the item, before flushing it (``added=0``), or after the
        items are flushed (``added``: how many of the counted items are new)."""
        plan = await self.plan_of(session, user_id)
        allowed = self.limits[plan][limit]
        if allowed is None:
            return
        await lock_user(session, user_id)
        counted = await self.counters[limit](session, user_id)
        held = counted - added
        if counted + (0 if added else 1) <= allowed:
            return
        upgrade = self.lifting(limit, held)
        raise PlanLimitReached(
            _detail(plan, limit, allowed, held, upgrade),
            limit=limit.key,
            allowed=allowed,
            usage=held,
            plan=plan.value,
            upgrade_to=upgrade.value if upgrade is not None else None,
        )


def _detail(plan: PlanName, limit: Limit, allowed: int, held: int, upgrade: PlanName | None) -> str:
    words = WORDS[limit]
    if allowed == 0:
        said = f"The {plan} plan includes no {words}."
    else:
        said = f"The {plan} plan allows {allowed} {words} and you have {held}."
    if upgrade is None:
        return f"{said} Delete one to add another."
    if allowed == 0:
        return f"{said} The {upgrade} plan does."
    return f"{said} Delete one, or move to the {upgrade} plan for more."
