"""Linking, syncing and unlinking accounts at the providers (`flint.brokerage`).

A link stores the provider's credentials sealed (`CredentialBox`) and one `LinkedAccount` per
account it reaches; a sync copies balances, holdings and transactions from the provider. The
provider is the source of truth: a sync replaces holdings and upserts transactions by the
provider's ids, so running it twice changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flint.accounts.models import (
    AccountHolding,
    AccountLink,
    AccountTransaction,
    LinkedAccount,
    ProviderIdentity,
)
from flint.accounts.sync_requests import queue_sync
from flint.analytics import track
from flint.billing.api import Limit, Plans
from flint.brokerage.api import (
    AccountGone,
    AccountProvider,
    AccountProviderError,
    AccountProviders,
    Capability,
    Credentials,
    Identity,
    LinkRefused,
    ProviderAccount,
    Transaction,
)
from flint.errors import ServiceUnavailable, ValidationFailed
from flint.kit.crypto import CredentialBox
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderError
from flint.notifications.api import NotificationKind, notify

log = structlog.get_logger(__name__)

RESYNC_OVERLAP = timedelta(days=10)
"""A sync asks for transactions from this long before the newest one stored: pending ones
settle (and may change) within days."""


class AccountListener(Protocol):
    """Told what happens to accounts, in the same transaction (a higher feature that mirrors
    them, such as portfolio following; the composition root wires it)."""

    async def account_synced(self, session: AsyncSession, account: LinkedAccount) -> None:
        """``account`` was just synced; its holdings and transactions are flushed."""
        ...

    async def accounts_unlinked(self, session: AsyncSession, account_ids: list[uuid.UUID]) -> None:
        """These accounts were unlinked (their holdings and transactions are gone)."""
        ...


@dataclass(frozen=True)
class Accounts:
    """What the services need from the runtime: the providers this server offers, the key box
    that seals their credentials, and who listens to account events."""

    providers: AccountProviders
    box: CredentialBox
    listeners: tuple[AccountListener, ...] = ()


def unavailable(provider: str, exc: ProviderError) -> ServiceUnavailable:
    return ServiceUnavailable(f"{provider} is unavailable right now ({exc.reason}); try again.")


async def _identity(
    session: AsyncSession, ctx: Accounts, user_id: uuid.UUID, name: str, provider: AccountProvider
) -> Identity:
    stmt = select(ProviderIdentity).where(
        ProviderIdentity.user_id == user_id, ProviderIdentity.provider == name
    )
    stored = (await session.execute(stmt)).scalar_one_or_none()
    if stored is not None:
        return ctx.box.open(stored.sealed)
    try:
        identity = await provider.register(str(user_id))
    except ProviderError as exc:
        raise unavailable(name, exc) from exc
    if identity:
        session.add(ProviderIdentity(user_id=user_id, provider=name, sealed=ctx.box.seal(identity)))
        await session.flush()
    return identity


async def connect_url(
    session: AsyncSession, ctx: Accounts, user_id: uuid.UUID, name: str, redirect: str | None
) -> str:
    provider = ctx.providers.get(name)
    if Capability.PORTAL not in provider.capabilities:
        detail = f"{name} links with an auth code directly; call POST /api/v1/accounts/link."
        raise ValidationFailed.at("body.provider", detail)
    identity = await _identity(session, ctx, user_id, name, provider)
    try:
        return await provider.connect_url(identity, redirect_url=redirect)
    except ProviderError as exc:
        raise unavailable(name, exc) from exc


async def link(
    session: AsyncSession,
    ctx: Accounts,
    plans: Plans,
    user_id: uuid.UUID,
    name: str,
    auth_code: str,
) -> list[LinkedAccount]:
    """Link with ``auth_code`` and sync what it reaches; returns the linked accounts. Linking
    accounts the user has linked already moves them to the new link (fresh credentials)
    instead of duplicating them, so it takes no more of the plan's connections; a link
    beyond them is refused (403) once the provider has answered, before anything is kept."""
    provider = ctx.providers.get(name)
    identity = await _identity(session, ctx, user_id, name, provider)
    try:
        linked = await provider.link(identity, auth_code)
    except LinkRefused as exc:
        detail = f"{name} refused the code: {exc.reason}"
        raise ValidationFailed.at("body.authCode", detail, exc.reason) from exc
    except ProviderError as exc:
        raise unavailable(name, exc) from exc
    if not linked.accounts:
        detail = f"{name} linked no accounts with that code."
        raise ValidationFailed.at("body.authCode", detail)

    record = AccountLink(
        user_id=user_id, provider=name, sealed_credentials=ctx.box.seal(linked.credentials)
    )
    session.add(record)
    await session.flush()
    accounts = [await _adopt(session, record, found) for found in linked.accounts]
    await _drop_empty_links(session, user_id, name, keep=record.id)
    await plans.enforce(session, user_id, Limit.CONNECTIONS, added=1)
    await sync_link(session, ctx, record.id)
    await track(session, user_id, "account_linked", {"provider": name, "accounts": len(accounts)})
    return accounts


async def count_connections(session: AsyncSession, user_id: uuid.UUID) -> int:
    """The user's links that count as connections for their plan: all but unlinked ones (a
    broken link is still the user's until they link again or unlink it)."""
    stmt = select(func.count()).where(
        AccountLink.user_id == user_id, AccountLink.status != "unlinked"
    )
    return int(await session.scalar(stmt) or 0)


async def _adopt(
    session: AsyncSession, record: AccountLink, found: ProviderAccount
) -> LinkedAccount:
    stmt = select(LinkedAccount).where(
        LinkedAccount.user_id == record.user_id,
        LinkedAccount.provider == record.provider,
        LinkedAccount.provider_account_id == found.id,
        LinkedAccount.unlinked_at.is_(None),
    )
    account = (await session.execute(stmt)).scalar_one_or_none()
    if account is None:
        account = LinkedAccount(
            user_id=record.user_id, provider=record.provider, provider_account_id=found.id
        )
        session.add(account)
    account.link_id = record.id
    account.name = found.name
    account.type = found.type.value
    account.currency = found.currency
    account.institution = found.institution
    account.mask = found.mask
    account.can_trade = found.can_trade
    await session.flush()
    return account


async def _drop_empty_links(
    session: AsyncSession, user_id: uuid.UUID, name: str, *, keep: uuid.UUID
) -> None:
    """Older links of the user whose accounts all moved to a newer link: forget them."""
    used = select(LinkedAccount.link_id).where(LinkedAccount.unlinked_at.is_(None))
    await session.execute(
        update(AccountLink)
        .where(
            AccountLink.user_id == user_id,
            AccountLink.provider == name,
            AccountLink.id != keep,
            AccountLink.status != "unlinked",
            AccountLink.id.not_in(used),
        )
        .values(status="unlinked", sealed_credentials=None, unlinked_at=utcnow())
    )


async def credentials_for(
    session: AsyncSession, ctx: Accounts, record: AccountLink, *, field: str = "provider"
) -> tuple[AccountProvider, Identity, Credentials]:
    """The link's provider, the user's identity there and the link's opened credentials;
    AccountGone once the link was removed (``field`` names the input an unconfigured
    provider is blamed on)."""
    if record.sealed_credentials is None:
        raise AccountGone(record.provider, "the account is no longer linked")
    provider = ctx.providers.get(record.provider, field=field)
    identity = await _identity(session, ctx, record.user_id, record.provider, provider)
    return provider, identity, ctx.box.open(record.sealed_credentials)


async def account_credentials(
    session: AsyncSession, ctx: Accounts, account: LinkedAccount, *, field: str
) -> tuple[AccountProvider, Identity, Credentials]:
    """`credentials_for` the account's link; AccountGone once it was removed."""
    record = await session.get(AccountLink, account.link_id)
    if record is None:
        raise AccountGone(account.provider, "the account is no longer linked")
    return await credentials_for(session, ctx, record, field=field)


async def request_sync(session: AsyncSession, account: LinkedAccount) -> None:
    """Sync the account's link in the background, once this transaction has committed (one
    sync for a burst of requests: `sync_requests`)."""
    await queue_sync(session, account.link_id)


async def sync_link(session: AsyncSession, ctx: Accounts, link_id: uuid.UUID) -> int:
    """Bring every active account of the link up to date; returns the accounts synced. A
    provider that no longer honours the link marks it broken (the accounts keep their last
    data and say why) and tells the user, once per breakage: a broken link whose accounts all
    sync again is active again. A provider that is down leaves everything as it was and
    raises. The link's row is locked first, as `unlink` locks it: a sync that wrote holdings
    and then the link's status deadlocked with an unlink that held the link and deleted them."""
    record = await session.get(AccountLink, link_id, with_for_update={"key_share": True})
    if record is None or record.status == "unlinked":
        return 0
    provider, identity, credentials = await credentials_for(session, ctx, record)
    stmt = select(LinkedAccount).where(
        LinkedAccount.link_id == link_id, LinkedAccount.unlinked_at.is_(None)
    )
    accounts = list((await session.execute(stmt)).scalars())
    was_broken = record.status == "broken"
    gone: list[tuple[LinkedAccount, str]] = []
    synced = 0
    for account in accounts:
        try:
            await _sync_account(session, provider, identity, credentials, account)
        except AccountGone as exc:
            record.status = "broken"
            account.sync_error = f"The institution no longer honours this link: {exc.reason}"
            gone.append((account, exc.reason))
            log.info("account_link_broken", link_id=str(link_id), provider=record.provider)
            continue
        except AccountProviderError as exc:
            account.sync_error = exc.reason[:500]
            continue
        account.sync_error = None
        account.last_synced_at = utcnow()
        synced += 1
        for listener in ctx.listeners:
            await listener.account_synced(session, account)
    if gone and not was_broken:
        await _tell_broken(session, record, gone)
    elif was_broken and accounts and synced == len(accounts):
        record.status = "active"
        log.info("account_link_restored", link_id=str(link_id), provider=record.provider)
    await session.flush()
    return synced


async def _tell_broken(
    session: AsyncSession, record: AccountLink, gone: list[tuple[LinkedAccount, str]]
) -> None:
    institution = gone[0][0].institution or record.provider
    names = ", ".join(account.name for account, _ in gone)
    await notify(
        session,
        user_id=record.user_id,
        kind=NotificationKind.ACCOUNT,
        title=f"{institution}: your accounts need linking again",
        body=(
            f"{institution} no longer honours Flint's link to {names} ({gone[0][1]}). They "
            "keep the balances and transactions of their last sync. Link them again to resume "
            "syncing (and trading)."
        ),
        data={
            "linkId": str(record.id),
            "provider": record.provider,
            "accountIds": [str(account.id) for account, _ in gone],
        },
    )


async def _sync_account(
    session: AsyncSession,
    provider: AccountProvider,
    identity: Identity,
    credentials: Credentials,
    account: LinkedAccount,
) -> None:
    remote = account.provider_account_id
    if Capability.BALANCES in provider.capabilities:
        balances = await provider.balances(identity, credentials, remote)
        account.balance_current = balances.current
        account.balance_available = balances.available
        account.balance_cash = balances.cash
        account.balance_buying_power = balances.buying_power
    if Capability.HOLDINGS in provider.capabilities:
        holdings = await provider.holdings(identity, credentials, remote)
        await session.execute(delete(AccountHolding).where(AccountHolding.account_id == account.id))
        merged: dict[str, AccountHolding] = {}
        for held in holdings:
            merged[held.symbol] = AccountHolding(
                account_id=account.id,
                symbol=held.symbol,
                quantity=held.quantity,
                price=held.price,
                cost_basis=held.cost_basis,
                currency=held.currency,
                name=held.name,
            )
        session.add_all(merged.values())
    if Capability.TRANSACTIONS in provider.capabilities:
        newest = await session.scalar(
            select(AccountTransaction.date)
            .where(AccountTransaction.account_id == account.id)
            .order_by(AccountTransaction.date.desc())
            .limit(1)
        )
        since = newest - RESYNC_OVERLAP if newest else None
        fetched = await provider.transactions(identity, credentials, remote, since=since)
        await _store_transactions(session, account, fetched, since)
    await session.flush()


async def _store_transactions(
    session: AsyncSession, account: LinkedAccount, fetched: list[Transaction], since: date | None
) -> None:
    # Pending transactions in the window are replaced by what the provider says now (a
    # pending card payment settles under a new id or disappears).
    window = [AccountTransaction.account_id == account.id, AccountTransaction.status == "pending"]
    if since is not None:
        window.append(AccountTransaction.date >= since)
    await session.execute(delete(AccountTransaction).where(*window))
    ids = [item.id for item in fetched]
    stored = (
        {
            row.provider_transaction_id: row
            for row in (
                await session.execute(
                    select(AccountTransaction).where(
                        AccountTransaction.account_id == account.id,
                        AccountTransaction.provider_transaction_id.in_(ids),
                    )
                )
            ).scalars()
        }
        if ids
        else {}
    )
    for item in fetched:
        row = stored.get(item.id)
        if row is None:
            row = AccountTransaction(account_id=account.id, provider_transaction_id=item.id)
            session.add(row)
            stored[item.id] = row
        row.date = item.date
        row.amount = item.amount
        row.currency = item.currency
        row.description = item.description[:500]
        row.status = item.status
        row.category = item.category
        row.type = item.type
        row.symbol = item.symbol
        row.quantity = item.quantity
        row.price = item.price


# --- unlinking -----------------------------------------------------------------------------


async def unlink(session: AsyncSession, ctx: Accounts, account: LinkedAccount) -> None:
    """Unlink the account's whole link: revoke it at the provider where it can be revoked,
    delete the credentials, holdings and transactions; the account rows stay for the trade
    history. A provider that cannot be reached changes nothing (503: the link would stay alive
    there, with Flint no longer able to revoke it); a link the provider no longer knows, or a
    revocation it refuses for good, is logged and the link is removed here anyway. The link's
    row is locked first, so a provider's webhook about the deletion (SnapTrade's
    CONNECTION_DELETED) waits for this unlink and finds the link unlinked."""
    # FOR NO KEY UPDATE: the same lock the status update takes anyway, which does not wait for
    # (nor deadlock with) the key-share locks of rows being inserted that refer to the link.
    record = await session.get(AccountLink, account.link_id, with_for_update={"key_share": True})
    assert record is not None
    await revoke(session, ctx, record)
    await forget_link(session, ctx, record)


async def revoke(session: AsyncSession, ctx: Accounts, record: AccountLink) -> None:
    """Revoke a live link at its provider: 503 when the provider cannot be reached; a link it
    no longer knows, or a revocation it refuses for good, is logged and counts as revoked."""
    if record.sealed_credentials is None:
        return
    try:
        provider, identity, credentials = await credentials_for(session, ctx, record)
        await provider.unlink(identity, credentials)
    except ProviderError as exc:
        raise unavailable(record.provider, exc) from exc
    except AccountProviderError as exc:
        log.warning("unlink_at_provider_failed", provider=record.provider, reason=str(exc))


async def forget_link(session: AsyncSession, ctx: Accounts, record: AccountLink) -> None:
    """Flint's side of unlinking (the provider's is done, or was done there): the link's
    credentials, holdings and transactions deleted, its accounts unlinked, the listeners told."""
    now = utcnow()
    record.status = "unlinked"
    record.sealed_credentials = None
    record.unlinked_at = now
    ids = select(LinkedAccount.id).where(LinkedAccount.link_id == record.id)
    account_ids = list((await session.execute(ids)).scalars())
    await session.execute(delete(AccountHolding).where(AccountHolding.account_id.in_(ids)))
    await session.execute(delete(AccountTransaction).where(AccountTransaction.account_id.in_(ids)))
    await session.execute(
        update(LinkedAccount)
        .where(LinkedAccount.link_id == record.id, LinkedAccount.unlinked_at.is_(None))
        .values(unlinked_at=now, balance_current=None, balance_available=None)
    )
    for listener in ctx.listeners:
        await listener.accounts_unlinked(session, account_ids)
    await session.flush()


async def active_links(session: AsyncSession) -> list[uuid.UUID]:
    stmt = select(AccountLink.id).where(AccountLink.status == "active").order_by(AccountLink.id)
    return list((await session.execute(stmt)).scalars())
