"""What a user leaving Flint holds at the providers, let go before the user is deleted: every
live link revoked, then the user's registration at each provider that has users deleted there
(SnapTrade's user, with whatever connections it still holds). The rows themselves go with the
user (the tables' cascades)."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.accounts.models import AccountLink, ProviderIdentity
from flint.accounts.service import Accounts, revoke, unavailable
from flint.brokerage.api import AccountProviderError
from flint.kit.vendor_errors import ProviderError

log = structlog.get_logger(__name__)


async def let_go(session: AsyncSession, ctx: Accounts, user_id: uuid.UUID) -> None:
    """Revoke the user's live links and delete the user at each provider it is registered
    with: 503 when a provider cannot be reached (the links and registrations let go until then
    stay let go; asking again finishes the rest). A provider this server is no longer
    configured for cannot be asked: its links are logged and left to expire there."""
    available = set(ctx.providers.available)
    links = await session.scalars(
        select(AccountLink)
        .where(AccountLink.user_id == user_id, AccountLink.sealed_credentials.is_not(None))
        .order_by(AccountLink.created_at, AccountLink.id)
        .with_for_update(key_share=True)
    )
    for record in links.all():
        if record.provider not in available:
            log.warning("closing_link_left_at_provider", provider=record.provider)
            continue
        await revoke(session, ctx, record)
    registered = await session.scalars(
        select(ProviderIdentity).where(ProviderIdentity.user_id == user_id)
    )
    for stored in registered.all():
        if stored.provider not in available:
            log.warning("closing_user_left_at_provider", provider=stored.provider)
            continue
        provider = ctx.providers.get(stored.provider)
        try:
            await provider.deregister(ctx.box.open(stored.sealed))
        except ProviderError as exc:
            raise unavailable(stored.provider, exc) from exc
        except AccountProviderError as exc:  # refused for good: nothing more to ask there
            log.warning("closing_user_not_deleted", provider=stored.provider, reason=str(exc))
