"""Closing an account: the person proves it is them (their email typed out, the password, and
a code when two-factor sign-in is on); what the account holds outside Flint's database is let
go (each `Farewell` the composition root names: the links and the registrations at the
providers, the Stripe customer and its subscription, the reports' files); then the user's row
is deleted, and with it, by the tables' cascades, everything Flint keeps of the user. A
farewell email confirms it to the address the account had."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from flint.auth import twofactor
from flint.auth.service import AuthConfig
from flint.db import after_commit
from flint.db import dialect_insert as upsert
from flint.errors import ValidationFailed
from flint.kit.secrets import token_digest
from flint.kit.time import utcnow
from flint.notifications.api import NotificationKind, queue_email
from flint.users.api import ClosedAuth0User, User

log = structlog.get_logger(__name__)


class Farewell(Protocol):
    """Let go of what the user holds somewhere Flint's cascades do not reach, in the closing's
    transaction; raise (a 503) to keep the account when that cannot be done now."""

    async def __call__(self, session: AsyncSession, *, user_id: uuid.UUID) -> None: ...


@dataclass(frozen=True)
class Closing:
    """The farewells of every feature that holds something outside the database, in order."""

    farewells: tuple[Farewell, ...] = ()


async def close(
    session: AsyncSession,
    closing: Closing,
    config: AuthConfig,
    two_factor: twofactor.TwoFactorConfig,
    user: User,
    *,
    email: str,
    password: str | None,
    code: str | None,
) -> None:
    """Close ``user``'s account for good (see the module); nothing changes on a refusal."""
    if email.strip().lower() != user.email.lower():
        raise ValidationFailed.at(
            "body.email",
            "Type the account's email address to confirm closing it.",
            "is not this account's email address",
        )
    await twofactor.confirm(
        session, two_factor, user, password=password, code=code, action="close_account"
    )
    user_id, address, sub = user.id, user.email, user.auth0_sub
    if user.has_password:
        warning = "someone knew your password: change it wherever you use it."
    else:
        warning = "someone could sign in as you: check your sign-in's security."
    for farewell in closing.farewells:
        await farewell(session, user_id=user_id)
    session.expunge(user)
    await session.execute(delete(User).where(User.id == user_id))
    if sub is not None:  # Auth0's tokens issued until now must not make a new account
        await session.execute(
            upsert(session)(ClosedAuth0User)
            .values(sub_digest=token_digest(sub), closed_at=utcnow())
            .on_conflict_do_update(index_elements=["sub_digest"], set_={"closed_at": utcnow()})
        )
    await queue_email(
        session,
        user_id=None,  # the row outlives the user it was about
        to=address,
        subject="Your Flint account is closed",
        body=(
            "Your Flint account and everything it held (portfolios, linked accounts, trades, "
            "reports, alerts, notifications, API keys) were deleted, the links to your bank "
            "and broker were revoked, and any subscription was cancelled.\n\n"
            f"If it was not you, {warning}"
        ),
        kind=NotificationKind.SECURITY.value,
    )
    after_commit(session, partial(config.principals.forget, user_id, sub))
    log.info("account_closed", user_id=str(user_id))
