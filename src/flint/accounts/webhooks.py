"""SnapTrade's webhooks: taken in by the API (verified, stored once per ``webhookId``, answered
at once) and handled by a worker, once.

What each event does to the SnapTrade link (the connection, SnapTrade's "brokerage
authorization") it names:

* ``CONNECTION_BROKEN``: the link is marked broken, its accounts say why, and the user is told
  to reconnect through their notification channels: the in-app notice and SMS say how, the
  email carries a Connection Portal link that repairs this connection (SnapTrade's
  ``reconnect``; the link is valid for five minutes, so it is sealed in the outbox until sent).
  A link already broken is not announced again.
* ``CONNECTION_FIXED``: a broken link is active again, and synced.
* ``CONNECTION_DELETED``: the connection is gone at SnapTrade; Flint forgets the link (as an
  unlink does) and tells the user, unless it was unlinked already. Flint's own unlink
  (``DELETE /accounts/{id}``) asks SnapTrade to delete the connection (``DELETE
  /connection/{id}``, which SnapTrade carries out asynchronously) and forgets the link at once;
  this event then confirms it ("already unlinked", no notice). The unlink holds the link's row
  while it asks, so an event handled meanwhile waits for it and finds the link unlinked.
* ``ACCOUNT_HOLDINGS_UPDATED``, ``TRADES_PLACED`` (and SnapTrade's ``TRADE_DETECTION`` and
  ``TRADE_UPDATE``, which say the same of trades): the link is synced in the background.
* ``NEW_ACCOUNT_AVAILABLE``: the connection's accounts are read from SnapTrade and the new ones
  linked, then synced.

The three connection events are ordered by ``eventTimestamp``: one older than a connection event
already handled for the same connection is stale and changes nothing. Events of other kinds are
acknowledged and logged, never stored; an event for a user or connection Flint does not know is
handled as "ignored".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint import jobs
from flint import webhooks as inbox
from flint.accounts.models import AccountLink, LinkedAccount, ProviderIdentity
from flint.accounts.reading import get_account
from flint.accounts.service import (
    Accounts,
    _adopt,
    credentials_for,
    forget_link,
)
from flint.accounts.sync_requests import queue_sync
from flint.accounts.webhook_models import SnapTradeWebhook
from flint.brokerage.api import (
    AccountProviderError,
    Reconnects,
    snaptrade_user_keys,
    verify_snaptrade_webhook,
)
from flint.db import commit
from flint.errors import BadRequest, ServiceUnavailable, ValidationFailed
from flint.kit.crypto import CredentialBox
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderError
from flint.notifications.api import NotificationKind, Secrets, notify

log = structlog.get_logger(__name__)

PROVIDER = "snaptrade"
HANDLE = "flint.accounts.handle_snaptrade_webhook"
NOT_CONFIGURED = (
    "SnapTrade is not configured on this server (it needs FLINT_SNAPTRADE_CLIENT_ID and "
    "FLINT_SNAPTRADE_CONSUMER_KEY)."
)
KEEP_HANDLED = timedelta(days=30)
"""How long a handled event's row is kept: a replay within it finds the row (and the replay
window refuses anything older long before)."""

BROKEN, FIXED, DELETED = "CONNECTION_BROKEN", "CONNECTION_FIXED", "CONNECTION_DELETED"
CONNECTION_STATE = frozenset({BROKEN, FIXED, DELETED})
SYNCING = frozenset(
    {"ACCOUNT_HOLDINGS_UPDATED", "TRADES_PLACED", "TRADE_DETECTION", "TRADE_UPDATE"}
)
NEW_ACCOUNT = "NEW_ACCOUNT_AVAILABLE"
HANDLED = CONNECTION_STATE | SYNCING | {NEW_ACCOUNT}


# --- the API side ----------------------------------------------------------------------------


async def receive(session: AsyncSession, ctx: Accounts, body: bytes, signature: str | None) -> bool:
    """Take in one delivery: 503 without SnapTrade, 400 unless SnapTrade signed it lately
    (nothing stored), stored under its ``webhookId`` if Flint handles its kind and handed to a
    worker after the commit. True when this delivery was the event's first."""
    settings = ctx.providers.settings
    if PROVIDER not in ctx.providers.available or settings.snaptrade_consumer_key is None:
        raise ServiceUnavailable(NOT_CONFIGURED)
    try:
        event = verify_snaptrade_webhook(
            settings.snaptrade_consumer_key.get_secret_value(),
            settings.snaptrade_client_id,
            body,
            signature,
            now=utcnow(),
        )
    except inbox.WebhookRefused as exc:
        log.warning("snaptrade_webhook_refused", reason=str(exc))
        raise BadRequest(f"Not a webhook from SnapTrade: {exc}.") from exc
    if event.event_type not in HANDLED:
        log.info("snaptrade_webhook_ignored", webhook_id=event.webhook_id, type=event.event_type)
        return False
    first = await inbox.store_once(
        session,
        SnapTradeWebhook,
        id=event.webhook_id,
        event_type=event.event_type,
        user_id=event.user_id[:255],
        connection_id=(event.connection_id or "")[:64] or None,
        account_id=(event.account_id or "")[:64] or None,
        occurred_at=event.occurred_at,
        payload=event.payload,
    )
    if first:
        jobs.enqueue(session, HANDLE, event.webhook_id)
    log.info(
        "snaptrade_webhook_received",
        webhook_id=event.webhook_id,
        type=event.event_type,
        first=first,
    )
    return first


# --- the worker side -------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """The Flint user and link a stored event is about."""

    user_id: uuid.UUID
    link: AccountLink | None


async def handle(sessions: async_sessionmaker[AsyncSession], ctx: Accounts, webhook_id: str) -> str:
    """Handle the stored event ``webhook_id`` once, in one transaction with marking it
    handled; returns what was done. A provider that cannot be reached raises (the task
    retries) and leaves the event unhandled."""
    async with sessions() as session:
        stmt = select(SnapTradeWebhook).where(SnapTradeWebhook.id == webhook_id)
        row = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
        if row is None or row.handled_at is not None:
            return "already handled"
        outcome = await _apply(session, ctx, row)
        row.handled_at = utcnow()
        row.outcome = outcome[:200]
        await session.flush()
        await commit(session)
    log.info("snaptrade_webhook_handled", webhook_id=webhook_id, outcome=outcome)
    return outcome


async def _apply(session: AsyncSession, ctx: Accounts, row: SnapTradeWebhook) -> str:
    found = await _find(session, ctx.box, row)
    if found is None:
        return "ignored: unknown user"
    link = found.link
    if link is None:
        return "ignored: unknown connection"
    if row.event_type in CONNECTION_STATE and await _superseded(session, row):
        return "stale"
    if row.event_type == DELETED:
        if link.status == "unlinked":
            return "already unlinked"
        await forget_link(session, ctx, link)
        await _tell_deleted(session, link)
        return "unlinked"
    if link.status == "unlinked":
        return "ignored: unlinked"
    if row.event_type == BROKEN:
        return await _broken(session, ctx, link)
    if row.event_type == FIXED:
        await _set_accounts_error(session, link, None)
        link.status = "active"
        await queue_sync(session, link.id)
        return "active, sync queued"
    if row.event_type == NEW_ACCOUNT:
        return await _new_accounts(session, ctx, link)
    await queue_sync(session, link.id)
    return "sync queued"


async def _find(session: AsyncSession, box: CredentialBox, row: SnapTradeWebhook) -> Found | None:
    """The Flint user registered at SnapTrade as ``row.user_id`` and their link to the
    connection the event names (None when it names none Flint has)."""
    user_id = await _registered(session, box, row.user_id)
    if user_id is None:
        return None
    if row.connection_id is None:
        return Found(user_id, None)
    links = select(AccountLink).where(
        AccountLink.user_id == user_id, AccountLink.provider == PROVIDER
    )
    newest_first = links.order_by(AccountLink.created_at.desc()).with_for_update()
    unlinked: AccountLink | None = None
    for link in (await session.execute(newest_first)).scalars():
        if link.sealed_credentials is None:
            unlinked = unlinked or link
            continue
        if box.open(link.sealed_credentials).get("authorizationId") == row.connection_id:
            return Found(user_id, link)
    # An unlinked link keeps no credentials, so which connection it was is not known; a
    # deletion Flint asked for is confirmed for the user's most recently unlinked one.
    return Found(user_id, unlinked if row.event_type == DELETED else None)


async def _registered(
    session: AsyncSession, box: CredentialBox, snaptrade_user: str
) -> uuid.UUID | None:
    """The Flint user whose stored (sealed) SnapTrade identity is ``snaptrade_user``: Flint
    registers a user under its id, or under ``<id>.<hex>`` when the registration had to be
    recovered; the name only says where to look, the stored identity decides (so an event for
    the orphan a recovery left behind is nobody's)."""
    for key in snaptrade_user_keys(snaptrade_user):
        try:
            user_id = uuid.UUID(key)
        except ValueError:
            continue
        stmt = select(ProviderIdentity).where(
            ProviderIdentity.user_id == user_id, ProviderIdentity.provider == PROVIDER
        )
        identity = (await session.execute(stmt)).scalar_one_or_none()
        if identity is not None and box.open(identity.sealed).get("userId") == snaptrade_user:
            return user_id
    return None


async def _superseded(session: AsyncSession, row: SnapTradeWebhook) -> bool:
    """A connection event newer than ``row`` for the same connection was handled already."""
    stmt = select(SnapTradeWebhook.id).where(
        SnapTradeWebhook.connection_id == row.connection_id,
        SnapTradeWebhook.event_type.in_(CONNECTION_STATE),
        SnapTradeWebhook.handled_at.is_not(None),
        SnapTradeWebhook.occurred_at > row.occurred_at,
        SnapTradeWebhook.id != row.id,
    )
    return (await session.execute(stmt.limit(1))).first() is not None


async def _accounts(session: AsyncSession, link: AccountLink) -> list[LinkedAccount]:
    stmt = select(LinkedAccount).where(
        LinkedAccount.link_id == link.id, LinkedAccount.unlinked_at.is_(None)
    )
    return list((await session.execute(stmt.order_by(LinkedAccount.created_at))).scalars())


async def _set_accounts_error(session: AsyncSession, link: AccountLink, error: str | None) -> None:
    for account in await _accounts(session, link):
        account.sync_error = error


async def _broken(session: AsyncSession, ctx: Accounts, link: AccountLink) -> str:
    if link.status == "broken":
        return "already broken"
    link.status = "broken"
    reason = "SnapTrade reports the connection to the brokerage broken; reconnect it."
    await _set_accounts_error(session, link, reason)
    accounts = await _accounts(session, link)
    url = await _reconnect_url(session, ctx, link)
    institution = accounts[0].institution if accounts else "Your brokerage"
    names = ", ".join(account.name for account in accounts) or "your accounts"
    body = (
        f"{institution} no longer answers through SnapTrade for {names}: the connection needs "
        "you to sign in to the brokerage again. The accounts keep their last balances and "
        "holdings; syncing and trading resume once it is repaired."
    )
    if accounts:
        body += (
            " To repair it, open SnapTrade's Connection Portal from Flint: POST "
            '/api/v1/accounts/connect with {"provider": "snaptrade", "reconnect": '
            f'"{accounts[0].id}"}}.'
        )
    email_body = body
    secrets = None
    if url is not None:
        email_body = (
            f"{body}\n\nOr open this link within five minutes to repair the connection (it "
            "works once; ask for a new one in Flint after that):\n${reconnect_url}"
        )
        secrets = Secrets({"reconnect_url": url}, ctx.box)
    await notify(
        session,
        user_id=link.user_id,
        kind=NotificationKind.ACCOUNT,
        title=f"{institution}: reconnect your accounts",
        body=body,
        data={
            "linkId": str(link.id),
            "provider": PROVIDER,
            "accountIds": [str(account.id) for account in accounts],
            "reconnect": True,
        },
        email_body=email_body,
        email_secrets=secrets,
    )
    return "broken, user told" + ("" if url else " (no portal link)")


async def _reconnect_url(session: AsyncSession, ctx: Accounts, link: AccountLink) -> str | None:
    """A Connection Portal link that repairs the link's connection; None when SnapTrade
    cannot give one now (the user is told without it)."""
    try:
        provider, identity, credentials = await credentials_for(session, ctx, link)
        if not isinstance(provider, Reconnects):
            return None
        redirect = ctx.providers.settings.snaptrade_redirect_url
        return await provider.reconnect_url(identity, credentials, redirect_url=redirect)
    except (AccountProviderError, ProviderError) as exc:
        log.warning("snaptrade_reconnect_link_failed", link_id=str(link.id), reason=str(exc))
        return None


async def reconnect_portal(
    session: AsyncSession,
    ctx: Accounts,
    user_id: uuid.UUID,
    name: str,
    redirect: str | None,
    account_id: uuid.UUID,
) -> str:
    """``POST /accounts/connect`` with ``reconnect``: the portal that repairs the connection of
    the user's account ``account_id`` (another user's, or an unlinked one, is 404)."""
    account = await get_account(session, user_id, account_id)
    record = await session.get(AccountLink, account.link_id)
    provider = ctx.providers.get(name)
    if account.provider != name or record is None:
        raise ValidationFailed.at("body.reconnect", f"That account is not linked through {name}.")
    if not isinstance(provider, Reconnects):
        detail = f"{name} cannot repair a connection; link the accounts again."
        raise ValidationFailed.at("body.reconnect", detail)
    try:
        provider, identity, credentials = await credentials_for(session, ctx, record)
        assert isinstance(provider, Reconnects)
        return await provider.reconnect_url(identity, credentials, redirect_url=redirect)
    except AccountProviderError as exc:
        raise ValidationFailed.at("body.reconnect", str(exc)) from exc
    except ProviderError as exc:
        detail = f"{name} is unavailable right now ({exc.reason}); try again."
        raise ServiceUnavailable(detail) from exc


async def _tell_deleted(session: AsyncSession, link: AccountLink) -> None:
    await notify(
        session,
        user_id=link.user_id,
        kind=NotificationKind.ACCOUNT,
        title="A brokerage connection was removed",
        body=(
            "SnapTrade removed the connection to your brokerage, so Flint unlinked its accounts "
            "(their trade history stays). Link the brokerage again to see it in Flint."
        ),
        data={"linkId": str(link.id), "provider": PROVIDER},
    )


async def _new_accounts(session: AsyncSession, ctx: Accounts, link: AccountLink) -> str:
    """Link the connection's accounts Flint does not have yet, then sync the link."""
    try:
        provider, identity, credentials = await credentials_for(session, ctx, link)
        found = await provider.accounts(identity, credentials)
    except AccountProviderError as exc:  # the connection is gone or refused: nothing to add
        return f"ignored: {exc}"[:200]
    known = {account.provider_account_id for account in await _accounts(session, link)}
    added = [await _adopt(session, link, item) for item in found if item.id not in known]
    await queue_sync(session, link.id)
    return f"{len(added)} account(s) linked, sync queued"


async def pending(session: AsyncSession, older_than: timedelta) -> list[str]:
    """Events stored but not handled for ``older_than``: their job was lost."""
    return await inbox.pending(session, SnapTradeWebhook, older_than)


async def prune(session: AsyncSession) -> int:
    """Forget handled events older than :data:`KEEP_HANDLED`."""
    return await inbox.prune(session, SnapTradeWebhook, KEEP_HANDLED)
