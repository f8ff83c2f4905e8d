"""Portfolios and their ledger: create, read, replace, delete; record and list transactions.

Every write is checked by replaying the whole ledger in (date, seq) order: a sell may never
take a position below zero (splits multiply it), and every symbol must be one the market data
service knows. A refused write changes nothing (the request's transaction rolls back).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.billing.api import Limit, Plans
from flint.errors import NotFound, ValidationFailed, field_error
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import backfill
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.portfolio.schemas import AssetIn, PortfolioIn, TransactionIn
from flint.portfolio.symbols import book


@dataclass(frozen=True)
class Row:
    """A ledger entry to check: where it came from in the request, and what it says."""

    field: str
    date: date
    type: str
    symbol: str | None
    quantity: Decimal | None


def _refuse(problems: list[tuple[str, str]]) -> ValidationFailed:
    detail = "; ".join(f"{where}: {why}" for where, why in problems)
    return ValidationFailed(detail, errors=[field_error(where, why) for where, why in problems])


async def check_rows(
    session: AsyncSession,
    market: MarketData,
    owner_id: uuid.UUID,
    rows: Sequence[Row],
    today: date,
) -> None:
    """Refuse future dates, unknown symbols (another user's custom asset is unknown), and buys
    before the symbol has a price: before a custom asset's first given price, or before a
    listed symbol's first daily close. Every bad row is named."""
    symbols = await book(session, market, owner_id, (row.symbol for row in rows))
    problems: list[tuple[str, str]] = []
    for row in rows:
        if row.date > today:
            problems.append((f"{row.field}.date", f"{row.date} is in the future"))
        if row.symbol is not None and not symbols.known(row.symbol):
            problems.append((f"{row.field}.symbol", f"unknown symbol {row.symbol}"))
    if problems:
        raise _refuse(problems)
    buys = [row for row in rows if row.type == "buy" and row.symbol is not None]
    for row in buys:
        custom = symbols.custom.get(row.symbol or "")
        if custom is None:
            continue
        if custom.first_date is None:
            problems.append((f"{row.field}.symbol", f"{row.symbol} has no prices yet"))
        elif row.date < custom.first_date:
            problems.append(
                (
                    f"{row.field}.date",
                    f"{row.symbol} has no price before {custom.first_date}; it cannot be bought "
                    f"on {row.date}",
                )
            )
    listed = [row for row in buys if symbols.listed(row.symbol or "")]
    earliest: dict[str, date] = {}
    for row in listed:
        assert row.symbol is not None
        earliest[row.symbol] = min(row.date, earliest.get(row.symbol, row.date))
    lacking = await market.without_history(session, earliest)
    for symbol in lacking:
        days = sorted({row.date for row in listed if row.symbol == symbol})
        bad_days = {days[0]}
        for day in days[1:]:
            if await market.without_history(session, {symbol: day}):
                bad_days.add(day)
            else:
                break  # once it has data, later days have it too
        problems.extend(
            (
                f"{row.field}.date",
                f"{symbol} has no price on or before {row.date}; it cannot be bought then",
            )
            for row in listed
            if row.symbol == symbol and row.date in bad_days
        )
    if problems:
        raise _refuse(problems)


def check_positions(rows: Sequence[Row]) -> None:
    """Replay in date order (stable within a day): no sell may exceed the position."""
    held: dict[str, Decimal] = {}
    for row in sorted(rows, key=lambda r: r.date):
        if row.symbol is None or row.quantity is None:
            continue
        position = held.get(row.symbol, Decimal(0))
        if row.type == "buy":
            held[row.symbol] = position + row.quantity
        elif row.type == "split":
            held[row.symbol] = position * row.quantity
        elif row.type == "sell":
            if row.quantity > position:
                raise _refuse(
                    [
                        (
                            f"{row.field}.quantity",
                            f"selling {row.quantity} {row.symbol} on {row.date} exceeds the "
                            f"{position} held then",
                        )
                    ]
                )
            held[row.symbol] = position - row.quantity


async def get(session: AsyncSession, user_id: uuid.UUID, portfolio_id: uuid.UUID) -> Portfolio:
    portfolio = await session.get(Portfolio, portfolio_id)
    if portfolio is None or portfolio.user_id != user_id:
        raise NotFound(f"No portfolio {portfolio_id}.")
    return portfolio


async def ledger(session: AsyncSession, portfolio: Portfolio) -> list[PortfolioTransaction]:
    stmt = (
        select(PortfolioTransaction)
        .where(PortfolioTransaction.portfolio_id == portfolio.id)
        .order_by(PortfolioTransaction.date, PortfolioTransaction.seq)
    )
    return list((await session.execute(stmt)).scalars())


def _stored_row(entry: PortfolioTransaction) -> Row:
    return Row(f"ledger[{entry.id}]", entry.date, entry.type, entry.symbol, entry.quantity)


def _asset_row(index: int, asset: AssetIn) -> Row:
    return Row(f"body.assets[{index}]", asset.purchase_date, "buy", asset.symbol, asset.quantity)


def _lot(portfolio: Portfolio, seq: int, asset: AssetIn) -> PortfolioTransaction:
    return PortfolioTransaction(
        portfolio_id=portfolio.id,
        seq=seq,
        date=asset.purchase_date,
        type="buy",
        symbol=asset.symbol,
        quantity=asset.quantity,
        price=asset.purchase_price,
        fee=Decimal(0),
        currency="USD",
    )


def _touch(portfolio: Portfolio) -> None:
    portfolio.version += 1
    portfolio.updated_at = utcnow()


async def create(
    session: AsyncSession, market: MarketData, plans: Plans, user_id: uuid.UUID, body: PortfolioIn
) -> Portfolio:
    """A new portfolio with its lots; beyond the plan's portfolios, 403."""
    rows = [_asset_row(i, asset) for i, asset in enumerate(body.assets)]
    await check_rows(session, market, user_id, rows, utcnow().date())
    await plans.enforce(session, user_id, Limit.PORTFOLIOS)
    portfolio = Portfolio(
        user_id=user_id, name=body.name, base_currency=body.base_currency, version=1
    )
    session.add(portfolio)
    await session.flush()
    session.add_all(_lot(portfolio, seq, asset) for seq, asset in enumerate(body.assets))
    await session.flush()
    if body.assets:
        backfill.start(session, portfolio.id)
    return portfolio


async def count_portfolios(session: AsyncSession, user_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(Portfolio.user_id == user_id)
    return int(await session.scalar(stmt) or 0)


async def replace(
    session: AsyncSession, market: MarketData, portfolio: Portfolio, body: PortfolioIn
) -> Portfolio:
    """New name, currency and lots; the ledger's other entries stay and must still add up.
    Lots mirrored from a followed account stay too: only its sync changes them."""
    rows = [_asset_row(i, asset) for i, asset in enumerate(body.assets)]
    await check_rows(session, market, portfolio.user_id, rows, utcnow().date())
    kept = [
        e
        for e in await ledger(session, portfolio)
        if e.type != "buy" or e.source_transaction_id is not None
    ]
    check_positions([*rows, *(_stored_row(e) for e in kept)])
    await session.execute(
        delete(PortfolioTransaction).where(
            PortfolioTransaction.portfolio_id == portfolio.id,
            PortfolioTransaction.type == "buy",
            PortfolioTransaction.source_transaction_id.is_(None),
        )
    )
    # The new lots come first within their day, as they were checked (mirrored rows keep
    # their own order, before the day's hand-entered rows).
    by_hand = [e for e in kept if e.source_transaction_id is None]
    for offset, entry in enumerate(by_hand):
        entry.seq = len(body.assets) + offset
    session.add_all(_lot(portfolio, i, asset) for i, asset in enumerate(body.assets))
    portfolio.name = body.name
    portfolio.base_currency = body.base_currency
    _touch(portfolio)
    await session.flush()
    backfill.start(session, portfolio.id)
    return portfolio


async def _next_seq(session: AsyncSession, portfolio: Portfolio) -> int:
    last = await session.scalar(
        select(func.max(PortfolioTransaction.seq)).where(
            PortfolioTransaction.portfolio_id == portfolio.id
        )
    )
    return 0 if last is None else last + 1


async def add_transactions(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    entries: Sequence[TransactionIn],
    *,
    names: Sequence[str] | None = None,
) -> list[PortfolioTransaction]:
    """Record ``entries`` (all or none), after the existing ledger; ``names`` say where each
    came from in the request, for the errors (default ``body``)."""
    labels = list(names) if names is not None else ["body"] * len(entries)
    rows = [
        Row(label, e.date, e.type, e.symbol, e.quantity)
        for label, e in zip(labels, entries, strict=True)
    ]
    await check_rows(session, market, portfolio.user_id, rows, utcnow().date())
    existing = await ledger(session, portfolio)
    check_positions([*(_stored_row(e) for e in existing), *rows])
    start = await _next_seq(session, portfolio)
    created = [
        PortfolioTransaction(
            portfolio_id=portfolio.id,
            seq=start + i,
            date=e.date,
            type=e.type,
            symbol=e.symbol,
            quantity=e.quantity,
            price=e.price,
            fee=e.fee,
            amount=e.amount,
            currency=e.currency,
        )
        for i, e in enumerate(entries)
    ]
    session.add_all(created)
    _touch(portfolio)
    await session.flush()
    backfill.start(session, portfolio.id)
    return created


async def list_portfolios(session: AsyncSession, user_id: uuid.UUID) -> list[Portfolio]:
    stmt = (
        select(Portfolio)
        .where(Portfolio.user_id == user_id)
        .order_by(Portfolio.created_at, Portfolio.id)
    )
    return list((await session.execute(stmt)).scalars())


async def remove(session: AsyncSession, portfolio: Portfolio) -> None:
    await session.delete(portfolio)
    await session.flush()
