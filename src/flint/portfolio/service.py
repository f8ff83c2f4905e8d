"""Portfolios and their ledger: create, read, replace, delete; record and list transactions.

Every write is checked by replaying the whole ledger in (date, seq) order: a sell may never
take a position below zero (splits multiply it), a dividend needs a position bought by its day,
every symbol must be one the market data service knows, every date lies in 1900-01-01..today
(`dates`), every currency is one the market converts to the base currency (`currencies`), and a
withdrawal may not overdraw the cash unless the portfolio allows it (`cash`). A refused write
changes nothing (the request's transaction rolls back).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

import anyio
from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flint.billing.api import Limit, Plans
from flint.bulk import bulk_insert, new_ids
from flint.db import table_of
from flint.errors import NotFound, ValidationFailed, field_error
from flint.kit.threads import crunch
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import backfill, cash, currencies, lots
from flint.portfolio.cash import Row
from flint.portfolio.dates import date_problem
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.portfolio.pages import Booked, stored_rows
from flint.portfolio.schemas import PortfolioIn, TransactionIn
from flint.portfolio.symbols import SymbolBook, book
from flint.reads import Query, Reads

QUOTED = ("buy", "sell", "dividend", "split")
"""Types whose amounts default to the symbol's quote currency (others: the base currency)."""


def refuse(problems: list[tuple[str, str]]) -> ValidationFailed:
    detail = "; ".join(f"{where}: {why}" for where, why in problems)
    return ValidationFailed(detail, errors=[field_error(where, why) for where, why in problems])


def _currency_problems(
    market: MarketData, rows: Sequence[Row], symbols: SymbolBook, base: str
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    answers: dict[str, bool] = {}

    def convertible(currency: str) -> bool:
        if currency not in answers:
            answers[currency] = currencies.convertible(market, currency, base)
        return answers[currency]

    for row in rows:
        assert row.currency is not None
        if row.type == "buy" and row.symbol is not None:
            quoted = symbols.currency(row.symbol)
            if not convertible(quoted):
                why = f"{row.symbol} is quoted in {quoted}, which cannot be converted to {base}"
                problems.append((row.at("symbol"), why))
                continue
        if not convertible(row.currency):
            problems.append(
                (
                    row.at("currency"),
                    f"{row.currency} cannot be converted to the portfolio's {base}: the market "
                    "has no exchange rate for it",
                )
            )
    return problems


async def check_rows(
    session: AsyncSession,
    market: MarketData,
    owner_id: uuid.UUID,
    rows: Sequence[Row],
    today: date,
    base: str,
) -> list[Row]:
    """Refuse dates outside 1900-01-01..today, unknown symbols (another user's custom asset
    is unknown), currencies the market cannot convert to ``base``, and buys before the symbol
    has a price: before a custom asset's first given price, or before a listed symbol's first
    daily close. Every bad row is named. Answers the rows with their currency settled (the
    symbol's quote currency for its trades and dividends, else ``base``, when not given) and
    their symbol as the market names it (``BRK.B`` is the universe's ``BRK-B``)."""
    symbols = await book(session, market, owner_id, (row.symbol for row in rows))
    problems: list[tuple[str, str]] = []
    for row in rows:
        wrong = date_problem(row.date, today)
        if wrong is not None:
            problems.append((row.at("date"), wrong))
        if row.symbol is not None and not symbols.known(row.symbol):
            problems.append((row.at("symbol"), f"unknown symbol {row.symbol}"))
    if problems:
        raise refuse(problems)
    rows = _with_currencies(rows, symbols, base)
    problems = _currency_problems(market, rows, symbols, base)
    if problems:
        raise refuse(problems)
    buys = [row for row in rows if row.type == "buy" and row.symbol is not None]
    for row in buys:
        custom = symbols.custom.get(row.symbol or "")
        if custom is None:
            continue
        if custom.first_date is None:
            problems.append((row.at("symbol"), f"{row.symbol} has no prices yet"))
        elif row.date < custom.first_date:
            problems.append(
                (
                    row.at("date"),
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
                row.at("date"),
                f"{symbol} has no price on or before {row.date}; it cannot be bought then",
            )
            for row in listed
            if row.symbol == symbol and row.date in bad_days
        )
    if problems:
        raise refuse(problems)
    return rows


def _with_currencies(rows: Sequence[Row], symbols: SymbolBook, base: str) -> list[Row]:
    """``rows`` with their currency settled (`default_currency` where none is given; worked
    out once per symbol and type) and their symbol as the market names it
    (`SymbolBook.canonical`: a ledger holds ``BRK-B`` once, however a row spells it)."""
    settled: dict[tuple[str | None, str], str] = {}
    names: dict[str, str] = {}
    out: list[Row] = []
    for row in rows:
        symbol = row.symbol
        if symbol is not None:
            named = names.get(symbol)
            if named is None:
                named = names[symbol] = symbols.canonical(symbol)
            symbol = named
        currency = row.currency
        if currency is None:
            key = (symbol, row.type)
            currency = settled.get(key)
            if currency is None:
                currency = settled[key] = default_currency(symbol, row.type, symbols, base)
        changed = currency != row.currency or symbol != row.symbol
        out.append(row.in_currency(currency, symbol) if changed else row)
    return out


def default_currency(symbol: str | None, type: str, symbols: SymbolBook, base: str) -> str:
    """The currency of a row that names none: its symbol's quote currency for trades and
    dividends, else the portfolio's base currency."""
    if symbol is not None and type in QUOTED:
        return symbols.currency(symbol)
    return base


def _unheld_dividends(rows: Sequence[Row]) -> list[Row]:
    """Dividends on a symbol not bought on or before their day (never held then)."""
    first: dict[str, date] = {}
    for row in rows:
        if row.type == "buy" and row.symbol is not None:
            first[row.symbol] = min(row.date, first.get(row.symbol, row.date))
    return [
        row
        for row in rows
        if row.type == "dividend"
        and row.symbol is not None
        and (row.symbol not in first or first[row.symbol] > row.date)
    ]


def check_positions(
    rows: Sequence[Row], before: Sequence[Row] = (), *, culprit: str = "body"
) -> None:
    """Replay in date order (stable within a day): no sell may exceed the position, and no
    dividend may be paid on a symbol never held by its day (refused rather than booked as
    income from nowhere). A dividend ``before`` (the ledger as it was) already had unheld
    stays: mirrored from a broker, or stored before the rule; ``culprit`` is blamed when a
    change leaves a stored one unheld."""
    already = {row.field for row in _unheld_dividends(before)}
    for row in _unheld_dividends(rows):
        if row.new or row.field not in already:
            where = row.at("symbol") if row.new else culprit
            why = (
                f"a dividend on {row.symbol} on {row.date}, which is not held then: record "
                f"the buy first (dividends are paid on a position)"
            )
            raise refuse([(where, why)])
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
                raise refuse(
                    [
                        (
                            row.at("quantity"),
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


async def positions_hold(
    rows: Sequence[Row], before: Sequence[Row] = (), *, culprit: str = "body"
) -> None:
    """`check_positions` in a worker thread (a 100,000-row ledger's replay on the event loop
    held every other request of the process for seconds)."""
    await anyio.to_thread.run_sync(partial(check_positions, rows, before, culprit=culprit))


def check_base(market: MarketData, base: str, rows: Sequence[Row] = ()) -> None:
    """Refuse a base currency the market cannot convert US dollars (what listed instruments
    are quoted in) into, or the ledger's own currencies (``rows``)."""
    if not currencies.is_base(market, base):
        raise ValidationFailed.at(
            "body.baseCurrency",
            f"{base} cannot be a base currency: it is not an ISO 4217 code the market has "
            "exchange rates for",
        )
    stuck = sorted(
        {
            row.currency
            for row in rows
            if row.currency and not currencies.convertible(market, row.currency, base)
        }
    )
    if stuck:
        raise ValidationFailed.at(
            "body.baseCurrency",
            f"the ledger has amounts in {', '.join(stuck)}, which cannot be converted to {base}",
        )


def touch(portfolio: Portfolio) -> None:
    portfolio.version += 1
    portfolio.updated_at = utcnow()


async def create(
    session: AsyncSession, market: MarketData, plans: Plans, user_id: uuid.UUID, body: PortfolioIn
) -> Portfolio:
    """A new portfolio with its lots; beyond the plan's portfolios, 403."""
    check_base(market, body.base_currency)
    rows = [lots.asset_row(i, asset) for i, asset in enumerate(body.assets)]
    rows = await check_rows(session, market, user_id, rows, utcnow().date(), body.base_currency)
    await plans.enforce(session, user_id, Limit.PORTFOLIOS)
    portfolio = Portfolio(
        user_id=user_id,
        name=body.name,
        base_currency=body.base_currency,
        allow_negative_cash=body.allow_negative_cash,
        version=1,
    )
    session.add(portfolio)
    await session.flush()
    session.add_all(
        lots.lot(portfolio, seq, asset, row)
        for seq, (asset, row) in enumerate(zip(body.assets, rows, strict=True))
    )
    await session.flush()
    if body.assets:
        backfill.start(session, portfolio.id)
    return portfolio


async def count_portfolios(session: AsyncSession, user_id: uuid.UUID) -> int:
    stmt = select(func.count()).where(Portfolio.user_id == user_id)
    return int(await session.scalar(stmt) or 0)


async def _next_seq(session: AsyncSession, portfolio: Portfolio) -> int:
    last = await session.scalar(
        select(func.max(PortfolioTransaction.seq)).where(
            PortfolioTransaction.portfolio_id == portfolio.id
        )
    )
    return 0 if last is None else last + 1


_BOOKED_COLUMNS = Booked._fields[:-1]
"""What a `Booked` row gives the table's columns (its ``source_transaction_id`` is not set here)."""


def sent_row(label: str, e: TransactionIn) -> Row:
    """A transaction a request sends, as the checks take it (``label``: where it was sent)."""
    return Row(label, e.date, e.type, e.symbol, e.quantity, e.price, e.fee, e.amount, e.currency)


async def add_transactions(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    entries: Sequence[TransactionIn],
    *,
    names: Sequence[str] | None = None,
) -> list[Booked]:
    """Record ``entries`` (all or none), after the existing ledger, in one bulk insert;
    ``names`` say where each came from in the request, for the errors (default ``body``)."""
    labels = list(names) if names is not None else ["body"] * len(entries)
    base = portfolio.base_currency
    rows = await crunch(len(entries), sent_rows, labels, entries)
    rows = await check_rows(session, market, portfolio.user_id, rows, utcnow().date(), base)
    existing = await stored_rows(session, portfolio.id)
    await positions_hold([*existing, *rows], existing)
    if not portfolio.allow_negative_cash:
        await cash.check(session, market, base, existing, [*existing, *rows], culprit="body")
    start = await _next_seq(session, portfolio)
    count = len(entries)
    created, columns = await crunch(count, _booked, entries, rows, base)
    columns |= {
        "portfolio_id": [portfolio.id] * count,
        "seq": range(start, start + count),
        "created_at": [utcnow()] * count,
    }
    await bulk_insert(session, table_of(PortfolioTransaction), columns)
    touch(portfolio)
    await session.flush()
    backfill.start(session, portfolio.id)
    return created


def sent_rows(labels: Sequence[str], entries: Sequence[TransactionIn]) -> list[Row]:
    return [sent_row(label, e) for label, e in zip(labels, entries, strict=True)]


def _booked(
    entries: Sequence[TransactionIn], rows: Sequence[Row], base: str
) -> tuple[list[Booked], dict[str, Sequence[Any]]]:
    """The new rows, with fresh ids in key order, and the table's columns of them."""
    created = [
        Booked(
            uid, e.date, e.type, row.symbol, e.quantity, e.price, e.fee, e.amount,
            row.currency or base,
        )
        for uid, e, row in zip(new_ids(len(entries)), entries, rows, strict=True)
    ]  # fmt: skip
    columns: dict[str, Sequence[Any]] = {
        name: [getattr(booked, name) for booked in created] for name in _BOOKED_COLUMNS
    }
    return created, columns


LIST = Query(
    select(
        Portfolio.id.label("portfolio_id"),
        Portfolio.name,
        Portfolio.base_currency,
        Portfolio.account_id,
        Portfolio.created_at,
        Portfolio.updated_at,
    )
    .where(Portfolio.user_id == bindparam("user_id"))
    .order_by(Portfolio.created_at, Portfolio.id)
)


async def list_portfolios(reads: Reads, user_id: uuid.UUID) -> list[Any]:
    """The user's portfolios, oldest first (rows of the `Portfolio` columns a summary shows, the
    id as ``portfolio_id``)."""
    return await reads.all(LIST, user_id=user_id)


async def remove(session: AsyncSession, portfolio: Portfolio) -> None:
    await session.delete(portfolio)
    await session.flush()
