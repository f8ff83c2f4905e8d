"""Correcting the ledger one transaction at a time: read one, replace it, delete it. Each
change is held to the rules a new transaction is (`service.check_rows`), and the ledger as it
would be afterwards is replayed as every write's is (`service.check_positions`, `cash.check`):
deleting a buy that a later sale needs, or a deposit a later withdrawal spends, is refused,
naming the row it would break. Rows mirrored from a followed account change only with its
sync (409). An imported row keeps its fingerprint: a file holding it is not imported again
(`fingerprints`)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import Conflict, NotFound
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import backfill, cash
from flint.portfolio.cash import Row
from flint.portfolio.edit_schemas import PortfolioPatch
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.portfolio.pages import stored_rows
from flint.portfolio.schemas import TransactionIn
from flint.portfolio.service import check_base, check_rows, positions_hold, sent_row, touch

PATH = "path.transactionId"
"""What a refusal of a deletion names: the transaction the request removes."""


async def entry(
    session: AsyncSession, portfolio: Portfolio, transaction_id: uuid.UUID
) -> PortfolioTransaction:
    """The portfolio's transaction ``transaction_id``; 404 for one of another portfolio (or
    another user's), as for a missing one."""
    found = await session.get(PortfolioTransaction, transaction_id)
    if found is None or found.portfolio_id != portfolio.id:
        raise NotFound(f"No transaction {transaction_id} in this portfolio.")
    return found


def _by_hand(target: PortfolioTransaction) -> None:
    if target.source_transaction_id is not None:
        raise Conflict(
            "This transaction is mirrored from the account the portfolio follows: only the "
            "account's sync changes it (the next one would put it back). Stop following the "
            "account to correct the ledger by hand."
        )


async def replace(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    transaction_id: uuid.UUID,
    body: TransactionIn,
) -> PortfolioTransaction:
    """The transaction as ``body`` says, under its id and in its place within its day."""
    target = await entry(session, portfolio, transaction_id)
    _by_hand(target)
    base = portfolio.base_currency
    sent = [sent_row("body", body)]
    [row] = await check_rows(session, market, portfolio.user_id, sent, utcnow().date(), base)
    before = await stored_rows(session, portfolio.id)
    mine = f"ledger[{target.id}]"
    after = sorted((row if r.field == mine else r for r in before), key=lambda r: r.date)
    await positions_hold(after, before)
    if not portfolio.allow_negative_cash:
        await cash.check(session, market, base, before, after, culprit="body")
    target.date, target.type, target.symbol = row.date, row.type, row.symbol
    target.quantity, target.price, target.fee = row.quantity, row.price, row.fee
    target.amount, target.currency = row.amount, row.currency or base
    touch(portfolio)
    await session.flush()
    backfill.start(session, portfolio.id)
    return target


async def remove(
    session: AsyncSession, market: MarketData, portfolio: Portfolio, transaction_id: uuid.UUID
) -> None:
    """Delete the transaction, unless the ledger without it no longer adds up."""
    target = await entry(session, portfolio, transaction_id)
    _by_hand(target)
    before = await stored_rows(session, portfolio.id)
    after = [r for r in before if r.field != f"ledger[{target.id}]"]
    await positions_hold(after, before, culprit=PATH)
    if not portfolio.allow_negative_cash:
        await cash.check(session, market, portfolio.base_currency, before, after, culprit=PATH)
    await session.delete(target)
    touch(portfolio)
    await session.flush()
    backfill.start(session, portfolio.id)


async def amend(
    session: AsyncSession, market: MarketData, portfolio: Portfolio, patch: PortfolioPatch
) -> Portfolio:
    """Rename the portfolio, change its base currency or its cash rule without sending its
    lots (`PUT` takes them all, which a portfolio of a large import has too many of to send).
    A base currency the ledger's amounts cannot be converted to is 422, and so is turning
    `allowNegativeCash` off while a withdrawal leaves the cash below zero."""
    name = patch.name if patch.name is not None else portfolio.name
    base = patch.base_currency if patch.base_currency is not None else portfolio.base_currency
    allow = portfolio.allow_negative_cash
    if patch.allow_negative_cash is not None:
        allow = patch.allow_negative_cash
    rows: list[Row] | None = None
    if base != portfolio.base_currency:
        rows = await stored_rows(session, portfolio.id)
        check_base(market, base, rows)
    if portfolio.allow_negative_cash and not allow:
        rows = rows if rows is not None else await stored_rows(session, portfolio.id)
        await cash.check(session, market, base, [], rows, culprit="body.allowNegativeCash")
    if (name, base, allow) == (
        portfolio.name,
        portfolio.base_currency,
        portfolio.allow_negative_cash,
    ):
        return portfolio  # nothing changes: no new version
    moved = base != portfolio.base_currency
    portfolio.name, portfolio.base_currency, portfolio.allow_negative_cash = name, base, allow
    touch(portfolio)
    await session.flush()
    if moved:  # the closes of the new currency's rates
        backfill.start(session, portfolio.id)
    return portfolio
