"""Reading linked accounts: the user's list, one account (theirs or 404), what its last sync
stored (holdings, a page of transactions, the activities as the provider reported them), and
the profile's summaries."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.accounts.models import AccountHolding, AccountTransaction, LinkedAccount
from flint.brokerage.api import Transaction
from flint.errors import NotFound
from flint.kit.paging import newest_first
from flint.users.api import LinkedAccountSummary


async def list_accounts(session: AsyncSession, user_id: uuid.UUID) -> list[LinkedAccount]:
    stmt = (
        select(LinkedAccount)
        .where(LinkedAccount.user_id == user_id, LinkedAccount.unlinked_at.is_(None))
        .order_by(LinkedAccount.created_at, LinkedAccount.id)
    )
    return list((await session.execute(stmt)).scalars())


async def get_account(
    session: AsyncSession, user_id: uuid.UUID, account_id: uuid.UUID
) -> LinkedAccount:
    """The caller's account; anyone else's, or an unlinked one, is 404."""
    account = await find_account(session, user_id, account_id)
    if account is None or account.unlinked_at is not None:
        raise NotFound(f"No account {account_id}.")
    return account


async def load_account(session: AsyncSession, account_id: uuid.UUID) -> LinkedAccount | None:
    """Any account by id, for work done on its owner's behalf (a trade's worker)."""
    return await session.get(LinkedAccount, account_id)


async def find_account(
    session: AsyncSession, user_id: uuid.UUID, account_id: uuid.UUID
) -> LinkedAccount | None:
    """The user's account, linked or no longer; None for anyone else's or an unknown one."""
    account = await session.get(LinkedAccount, account_id)
    if account is None or account.user_id != user_id:
        return None
    return account


async def summaries(session: AsyncSession, user_id: uuid.UUID) -> list[LinkedAccountSummary]:
    """The user's linked accounts as their profile lists them."""
    return [
        LinkedAccountSummary(
            account_id=account.id, provider=account.provider, name=account.name, type=account.type
        )
        for account in await list_accounts(session, user_id)
    ]


async def activities(session: AsyncSession, account: LinkedAccount) -> list[Transaction]:
    """What the account's last sync stored of its transactions, as the provider reported them."""
    stored = await session.execute(
        select(AccountTransaction).where(AccountTransaction.account_id == account.id)
    )
    return [
        Transaction(
            id=row.provider_transaction_id,
            date=row.date,
            amount=row.amount,
            description=row.description,
            currency=row.currency,
            status=row.status,
            type=row.type,
            symbol=row.symbol,
            quantity=row.quantity,
            price=row.price,
        )
        for row in stored.scalars()
    ]


async def holdings(session: AsyncSession, account: LinkedAccount) -> list[AccountHolding]:
    stmt = (
        select(AccountHolding)
        .where(AccountHolding.account_id == account.id)
        .order_by(AccountHolding.symbol)
    )
    return list((await session.execute(stmt)).scalars())


async def transactions_page(
    session: AsyncSession, account: LinkedAccount, limit: int, cursor: str | None
) -> tuple[list[AccountTransaction], str | None]:
    """Newest first (date, then id), ``limit`` at a time; the cursor names the last row."""
    stmt = select(AccountTransaction).where(AccountTransaction.account_id == account.id)
    return await newest_first(
        session,
        stmt,
        AccountTransaction.date,
        AccountTransaction.id,
        parse=date.fromisoformat,
        limit=limit,
        cursor=cursor,
    )
