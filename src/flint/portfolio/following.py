"""A portfolio that follows a linked brokerage account: its activities and holdings, as the
account's last sync stored them, mirrored into the ledger (`flint.portfolio.mirror` says how).

When it runs: when following starts (``POST /portfolio/`` with ``accountId``, ``PUT
/portfolio/{id}/follow``) and after every successful sync of the account
(`flint.accounts.service.sync_link`). Unlinking the account stops the following; the ledger
stays.

Rows and hand edits: every mirrored row carries ``source_transaction_id`` (``<account
id>/<provider id>``, unique per portfolio), so a re-sync never duplicates a row, a provider's
correction updates it and an activity the provider withdrew is removed. Mirrored rows are
written only by the sync: they never change through ``PUT /portfolio/{id}``, and the rows of an
account no longer followed stay as history. Rows entered by hand (transactions, CSV, lots) are
allowed beside them and left alone by the sync: the mirrored part of the ledger ends at the
broker's positions, and hand-entered rows add to it.

Reconciliation: where the mirrored trades do not add up to the broker's holding, an opening
buy (``#opening:<symbol>``) is dated at the earliest mirrored activity (the follow date without
any), priced at the holding's cost per unit when the broker gives a cost basis, else at that
day's close; units the broker no longer holds are sold by a closing row (``#closing:<symbol>``)
dated the day it is first needed, at the broker's price (else the last close). A reconciliation
row that still fits keeps its date and price on later syncs, so history stays put. Symbols the
market data service does not know, short positions and openings without any price are skipped
with a note in ``syncReport``.

Concurrency: the portfolio row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
serialises writers) before its ledger is read, and (portfolio, source) is unique, so two syncs
at once end with the same ledger. Only the account owner's portfolios are touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import structlog
from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flint.accounts import api as accounts
from flint.accounts.api import AccountHolding, LinkedAccount
from flint.billing.api import Plans
from flint.errors import FlintError, NotFound, ValidationFailed
from flint.kit.money import PRICE_STEP
from flint.kit.symbols import normalize_symbol
from flint.kit.time import utcnow
from flint.market.api import Interval, MarketData
from flint.portfolio import backfill, mirror, service
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.portfolio.schemas import PortfolioCreate
from flint.portfolio.symbols import Instruments

log = structlog.get_logger(__name__)

FOLLOWABLE = ("brokerage",)
MAX_NOTES = 20
_CLOSE_LOOKBACK = timedelta(days=10)
_FIELDS = ("date", "seq", "type", "symbol", "quantity", "price", "amount", "currency")


@dataclass
class Report:
    mirrored: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def as_json(self) -> dict[str, Any]:
        return {
            "mirrored": self.mirrored,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "skipped": self.skipped,
            "notes": self.notes[:MAX_NOTES],
        }


# --- following ------------------------------------------------------------------------------


async def followable(
    session: AsyncSession, user_id: uuid.UUID, account_id: uuid.UUID, where: str
) -> LinkedAccount:
    """The caller's linked brokerage account: another user's or an unknown one is 404, an
    unlinked or a non-brokerage one 422 at ``where``."""
    account = await accounts.find_account(session, user_id, account_id)
    if account is None:
        raise NotFound(f"No account {account_id}.")
    if account.unlinked_at is not None:
        detail = f"Account {account_id} is no longer linked; link it again to follow it."
        raise ValidationFailed.at(where, detail)
    if account.type not in FOLLOWABLE:
        detail = f"Only a brokerage account can be followed; {account_id} is a {account.type} one."
        raise ValidationFailed.at(where, detail)
    return account


async def create(
    session: AsyncSession,
    market: MarketData,
    plans: Plans,
    user_id: uuid.UUID,
    body: PortfolioCreate,
) -> Portfolio:
    """A new portfolio (`service.create`), following ``body.account_id`` when given."""
    account = None
    if body.account_id is not None:
        account = await followable(session, user_id, body.account_id, "body.accountId")
    portfolio = await service.create(session, market, plans, user_id, body)
    if account is not None:
        portfolio = await _start(session, market, portfolio.id, account)
    return portfolio


async def follow(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    account_id: uuid.UUID,
) -> Portfolio:
    """Follow ``account_id`` (mirroring it at once); following another account before keeps
    that account's rows as history."""
    account = await followable(session, portfolio.user_id, account_id, "body.accountId")
    return await _start(session, market, portfolio.id, account)


async def unfollow(session: AsyncSession, portfolio: Portfolio) -> Portfolio:
    """Stop following; the ledger stays as it is (a portfolio that follows nothing is fine)."""
    (locked,) = await _lock(session, select(Portfolio).where(Portfolio.id == portfolio.id))
    locked.account_id = None
    await session.flush()
    return locked


async def _start(
    session: AsyncSession, market: MarketData, portfolio_id: uuid.UUID, account: LinkedAccount
) -> Portfolio:
    (portfolio,) = await _lock(session, select(Portfolio).where(Portfolio.id == portfolio_id))
    portfolio.account_id = account.id
    await _mirror(session, market, portfolio, account)
    return portfolio


async def sync_followers(session: AsyncSession, market: MarketData, account: LinkedAccount) -> int:
    """Mirror ``account`` into every portfolio of its owner that follows it; returns how many."""
    stmt = (
        select(Portfolio)
        .where(Portfolio.account_id == account.id, Portfolio.user_id == account.user_id)
        .order_by(Portfolio.id)
    )
    portfolios = await _lock(session, stmt)
    for portfolio in portfolios:
        await _mirror(session, market, portfolio, account)
    return len(portfolios)


async def release(session: AsyncSession, account_ids: list[uuid.UUID]) -> None:
    """These accounts were unlinked: their portfolios stop following and keep their
    ledgers."""
    if not account_ids:
        return
    await session.execute(
        update(Portfolio)
        .where(Portfolio.account_id.in_(account_ids))
        .values(account_id=None)
        .execution_options(synchronize_session="fetch")
    )


@dataclass(frozen=True)
class Followers:
    """Following told what happens to accounts (an `accounts.AccountListener`: the composition
    root hands it to the accounts feature, which sits below this one)."""

    market: MarketData

    async def account_synced(self, session: AsyncSession, account: LinkedAccount) -> None:
        await sync_followers(session, self.market, account)

    async def accounts_unlinked(self, session: AsyncSession, account_ids: list[uuid.UUID]) -> None:
        await release(session, account_ids)


async def _lock(session: AsyncSession, stmt: Select[Portfolio]) -> list[Portfolio]:
    """The portfolios, read afresh and locked until the transaction ends (PostgreSQL; SQLite
    transactions that write hold the database's write lock from their start)."""
    stmt = stmt.execution_options(populate_existing=True)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt)).scalars())


# --- mirroring ------------------------------------------------------------------------------


def known_as(market: Instruments) -> Callable[[str], str | None]:
    """A broker's symbol as the ledger keeps it: the market's name for it (a broker's
    ``BRK.B`` is ``BRK-B``, as a hand-entered row is), None when the market does not know it."""

    def known(symbol: str) -> str | None:
        try:
            name = normalize_symbol(symbol)
        except ValueError:
            return None
        instrument = market.instrument(name)
        return instrument.symbol if instrument is not None else None  # as the market names it

    return known


def _unit(value: Decimal) -> Decimal:
    return value.quantize(PRICE_STEP, rounding=ROUND_HALF_EVEN)


async def _close(
    session: AsyncSession, market: MarketData, symbol: str, day: date
) -> Decimal | None:
    """The last close on or before ``day`` (None when there is none to be had)."""
    try:
        view = await market.history(session, symbol, day - _CLOSE_LOOKBACK, day, Interval.D1)
    except FlintError as exc:
        log.info("follow_close_unavailable", symbol=symbol, day=str(day), detail=exc.detail)
        return None
    closes = [bar.close for bar in view.bars if bar.timestamp.date() <= day]
    return closes[-1] if closes else None


async def _reconciliation(
    session: AsyncSession,
    market: MarketData,
    mirrored: mirror.Mirrored,
    held: dict[str, AccountHolding],
    existing: dict[str, PortfolioTransaction],
    report: Report,
) -> list[mirror.Row]:
    today = utcnow().date()
    quantities = {symbol: holding.quantity for symbol, holding in held.items()}
    rows: list[mirror.Row] = []
    for gap in mirror.gaps(mirrored.rows, quantities):
        holding = held.get(gap.symbol)
        if gap.opening:
            key = mirror.OPENING + gap.symbol
            before = existing.get(key)
            days = [d for d in (mirrored.start, before.date if before else None) if d]
            day = min(days, default=today)
            if before is not None and before.quantity == gap.opening and before.date == day:
                price = before.price
            elif holding is not None and holding.cost_basis and holding.cost_basis > 0:
                price = _unit(holding.cost_basis / holding.quantity)
            else:
                price = await _close(session, market, gap.symbol, day)
                price = price if price is not None else (holding.price if holding else None)
            if price is None or price <= 0:
                report.notes.append(f"{gap.symbol}: no price for its opening balance; skipped")
            else:
                rows.append(
                    mirror.Row(key, day, "buy", gap.symbol, quantity=gap.opening, price=price)
                )
        if gap.closing:
            key = mirror.CLOSING + gap.symbol
            before = existing.get(key)
            if before is not None and before.quantity == gap.closing:
                day, price = before.date, before.price
            else:
                day = today
                price = holding.price if holding is not None else None
                if not price or price <= 0:
                    price = await _close(session, market, gap.symbol, today)
            if price is None or price <= 0:
                report.notes.append(f"{gap.symbol}: no price to close the position; skipped")
            else:
                rows.append(
                    mirror.Row(key, day, "sell", gap.symbol, quantity=gap.closing, price=price)
                )
    return rows


async def _account_state(
    session: AsyncSession, market: MarketData, account: LinkedAccount, report: Report
) -> tuple[mirror.Mirrored, dict[str, AccountHolding]]:
    known = known_as(market)
    mirrored = mirror.mirror(await accounts.activities(session, account), known)
    for reason, count in sorted(mirrored.skipped.items()):
        report.notes.append(f"{reason}: {count} skipped")
    report.skipped = sum(mirrored.skipped.values())
    held: dict[str, AccountHolding] = {}
    for holding in await accounts.holdings(session, account):
        symbol = known(holding.symbol)
        if symbol is None:
            report.notes.append(f"holding {holding.symbol}: unknown symbol; not mirrored")
        elif holding.quantity < 0:
            report.notes.append(f"holding {holding.symbol}: short positions are not mirrored")
        elif holding.quantity > 0:
            held[symbol] = holding
    return mirrored, held


async def _mirror(
    session: AsyncSession, market: MarketData, portfolio: Portfolio, account: LinkedAccount
) -> Report:
    """Bring the account's rows of the (locked) portfolio's ledger in line with the account."""
    report = Report()
    prefix = str(account.id)
    ledger = await session.execute(
        select(PortfolioTransaction)
        .where(
            PortfolioTransaction.portfolio_id == portfolio.id,
            PortfolioTransaction.source_transaction_id.is_not(None),
        )
        .execution_options(populate_existing=True)
    )
    existing = {
        row.source_transaction_id[len(prefix) :]: row
        for row in ledger.scalars()
        if row.source_transaction_id and row.source_transaction_id.startswith(prefix)
    }
    mirrored, held = await _account_state(session, market, account, report)
    wanted = [
        *mirrored.rows,
        *await _reconciliation(session, market, mirrored, held, existing, report),
    ]
    seqs = mirror.sequence(wanted)
    report.mirrored = len(wanted)
    for want in wanted:
        values = {
            "date": want.date,
            "seq": seqs[want.key],
            "type": want.type,
            "symbol": want.symbol,
            "quantity": want.quantity,
            "price": want.price,
            "amount": want.amount,
            "currency": want.currency,
        }
        row = existing.pop(want.key, None)
        if row is None:
            session.add(
                PortfolioTransaction(
                    portfolio_id=portfolio.id,
                    source_transaction_id=prefix + want.key,
                    fee=Decimal(0),
                    **values,
                )
            )
            report.added += 1
        elif any(getattr(row, name) != values[name] for name in _FIELDS):
            for name, value in values.items():
                setattr(row, name, value)
            report.updated += 1
    for gone in existing.values():
        await session.delete(gone)
        report.removed += 1
    if report.changed:
        portfolio.version += 1
        portfolio.updated_at = utcnow()
        backfill.start(session, portfolio.id)
    portfolio.last_synced_at = utcnow()
    portfolio.sync_report = report.as_json()
    await session.flush()
    log.info("portfolio_followed", portfolio_id=str(portfolio.id), **report.as_json())
    return report
