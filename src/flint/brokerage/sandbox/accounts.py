"""The sandbox's accounts: opening what a code links (once), whose they are, and the read side
(the account list, balances, holdings, transactions) in the Protocol's types. Reading a bank
account first brings its link's checking and savings up to the day (`catch_up`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from flint.brokerage.sandbox import bank, store
from flint.brokerage.sandbox.data import (
    Ledger,
    LinkCode,
    Seed,
    SeedTransaction,
    account_id,
    code_key,
    generate,
    money,
    plan_holdings,
)
from flint.brokerage.sandbox.matching import held_back
from flint.brokerage.sandbox.pricing import historical_fills, prices_now, quote
from flint.brokerage.types import (
    AccountGone,
    AccountType,
    Balances,
    Credentials,
    Holding,
    OrderRejected,
    ProviderAccount,
    Transaction,
)
from flint.kit.calendar import local_date
from flint.kit.vendor_errors import ProviderUnavailable
from flint.market.api import MarketData

INSTITUTION = "Flint Sandbox"


def to_account(row: Row[Any]) -> ProviderAccount:
    return ProviderAccount(
        id=row.id,
        name=row.name,
        type=AccountType(row.kind),
        currency=row.currency,
        institution=INSTITUTION,
        mask=row.mask,
        can_trade=row.kind == AccountType.BROKERAGE,
    )


def _to_transaction(row: Row[Any], currency: str) -> Transaction:
    return Transaction(
        id=row.id,
        date=row.date,
        amount=row.amount,
        description=row.description,
        status=row.status,
        category=row.category,
        type=row.type,
        symbol=row.symbol,
        quantity=row.quantity,
        price=row.price,
        currency=currency,
    )


def link_key(provider: str, credentials: Credentials) -> str:
    code = credentials.get("code") if isinstance(credentials, dict) else None
    if not code:
        raise AccountGone(provider, "these credentials are not a sandbox link")
    return code_key(code)


async def owned(
    conn: AsyncConnection,
    provider: str,
    credentials: Credentials,
    account_id: str,
    *,
    lock: bool = False,
) -> Row[Any]:
    """The account, if these credentials' link (still) reaches it; else AccountGone."""
    key = link_key(provider, credentials)
    stmt = (
        select(store.accounts)
        .join(store.links, store.links.c.key == store.accounts.c.link_key)
        .where(store.accounts.c.id == account_id, store.accounts.c.link_key == key)
    )
    if lock:
        stmt = stmt.with_for_update(of=store.accounts)
    row = (await conn.execute(stmt)).first()
    if row is None:
        raise AccountGone(provider, f"no account {account_id} on this link")
    return row


async def _seed(provider: str, market: MarketData, key: str, parsed: LinkCode, today: date) -> Seed:
    fills = await historical_fills(provider, market, plan_holdings(parsed, today))
    bank_ledgers = bank.opened(key, account_id(key, "checking"), account_id(key, "savings"), today)
    return generate(parsed, today, fills, bank_ledgers)


async def open_accounts(
    db: store.Database,
    provider: str,
    market: MarketData,
    key: str,
    parsed: LinkCode,
    clock: Callable[[], datetime],
) -> Sequence[Row[Any]]:
    """The link's accounts, generated and written the first time its code is linked."""
    listing = (
        select(store.accounts).where(store.accounts.c.link_key == key).order_by(store.accounts.c.id)
    )
    async with db.read() as conn:
        known = (await conn.execute(listing)).first() is not None
    now = clock()
    seed = None if known else await _seed(provider, market, key, parsed, local_date(now))
    async with db.write() as conn:
        found = await conn.execute(select(store.links.c.key).where(store.links.c.key == key))
        if found.first() is None:
            await conn.execute(insert(store.links).values(key=key, created_at=now))
        had = await conn.execute(
            select(store.terms.c.link_key).where(store.terms.c.link_key == key)
        )
        if had.first() is None:
            await conn.execute(
                insert(store.terms).values(
                    link_key=key,
                    commission=parsed.commission,
                    partial=parsed.partial,
                    always_open=parsed.always_open,
                )
            )
        if (await conn.execute(listing)).first() is None:
            if seed is None:  # unlinked and linked again meanwhile: rare, so generate in the lock
                seed = await _seed(provider, market, key, parsed, local_date(now))
            await conn.execute(
                insert(store.accounts),
                [
                    {
                        "id": item.id,
                        "link_key": key,
                        "kind": item.kind,
                        "name": item.name,
                        "mask": item.mask,
                        "currency": "USD",
                        "cash": item.balance,
                        "created_at": now,
                    }
                    for item in seed.accounts
                ],
            )
            if seed.positions:
                await conn.execute(
                    insert(store.positions),
                    [
                        {
                            "account_id": p.account_id,
                            "symbol": p.symbol,
                            "quantity": p.quantity,
                            "cost_basis": p.cost_basis,
                        }
                        for p in seed.positions
                    ],
                )
            await conn.execute(insert(store.transactions), _rows(seed.transactions))
        return (await conn.execute(listing)).all()


def _rows(items: Sequence[SeedTransaction]) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "account_id": t.account_id,
            "seq": t.seq,
            "date": t.date,
            "amount": t.amount,
            "description": t.description,
            "status": "posted",
            "category": t.category,
            "type": t.type,
            "symbol": t.symbol,
            "quantity": t.quantity,
            "price": t.price,
        }
        for t in items
    ]


async def catch_up(db: store.Database, account: Row[Any], today: date) -> None:
    """Bring a bank account's link (checking and savings together) up to ``today``: the days
    after the last one with a transaction are generated (`bank.advance`) from the balances the
    accounts hold, and written with the new balances in one transaction."""
    if account.kind == AccountType.BROKERAGE:
        return
    key = account.link_key
    ids = (account_id(key, "checking"), account_id(key, "savings"))
    table = store.transactions
    last_day = select(func.max(table.c.date)).where(table.c.account_id.in_(ids))
    async with db.read() as conn:
        through: date | None = (await conn.execute(last_day)).scalar()
    if through is None or through >= today:
        return
    async with db.write() as conn:
        checking = await store.lock_account(conn, ids[0])
        savings = (
            await conn.execute(select(store.accounts).where(store.accounts.c.id == ids[1]))
        ).one()
        through = (await conn.execute(last_day)).scalar()
        if through is None or through >= today:
            return
        last_seq = await conn.execute(
            select(table.c.account_id, func.max(table.c.seq))
            .where(table.c.account_id.in_(ids))
            .group_by(table.c.account_id)
        )
        seqs: dict[str, int] = {row[0]: row[1] for row in last_seq}
        ledgers = [Ledger(row.id, row.cash, seqs.get(row.id, -1)) for row in (checking, savings)]
        bank.advance(key, ledgers[0], ledgers[1], through + timedelta(days=1), today)
        items = [item for ledger in ledgers for item in ledger.items]
        if not items:
            return
        await conn.execute(insert(table), _rows(items))
        for ledger in ledgers:
            await conn.execute(
                update(store.accounts)
                .where(store.accounts.c.id == ledger.account)
                .values(cash=ledger.balance)
            )


async def listed(db: store.Database, provider: str, key: str) -> list[ProviderAccount]:
    async with db.read() as conn:
        found = await conn.execute(select(store.links.c.key).where(store.links.c.key == key))
        if found.first() is None:
            raise AccountGone(provider, "this link is gone")
        rows = await conn.execute(
            select(store.accounts)
            .where(store.accounts.c.link_key == key)
            .order_by(store.accounts.c.id)
        )
        return [to_account(row) for row in rows]


async def balances(
    db: store.Database,
    provider: str,
    market: MarketData,
    credentials: Credentials,
    account_id: str,
    today: date,
) -> Balances:
    async with db.read() as conn:
        account = await owned(conn, provider, credentials, account_id)
    await catch_up(db, account, today)
    async with db.read() as conn:
        account = await owned(conn, provider, credentials, account_id)
        held = (
            await conn.execute(
                select(store.positions).where(store.positions.c.account_id == account_id)
            )
        ).all()
        working = await store.open_orders(conn, account_id)
        terms = await store.terms_of(conn, account_id)
    cash: Decimal = account.cash
    if account.kind != AccountType.BROKERAGE:
        return Balances(currency=account.currency, current=cash, available=cash)
    back = held_back(working, await prices_now(provider, market, working), terms)
    try:
        views = await asyncio.gather(*(quote(provider, market, row.symbol) for row in held))
    except OrderRejected as exc:  # a held symbol the market no longer knows
        raise ProviderUnavailable(provider, exc.reason) from exc
    value = sum(
        (money(row.quantity * view.quote.price) for row, view in zip(held, views, strict=True)),
        Decimal("0.00"),
    )
    return Balances(
        currency=account.currency,
        current=cash + value,
        available=cash,
        cash=cash,
        buying_power=cash - back.cash,  # what open buys hold back is not there to spend
    )


async def holdings(
    db: store.Database,
    provider: str,
    market: MarketData,
    credentials: Credentials,
    account_id: str,
) -> list[Holding]:
    async with db.read() as conn:
        account = await owned(conn, provider, credentials, account_id)
        rows = (
            await conn.execute(
                select(store.positions)
                .where(store.positions.c.account_id == account_id)
                .order_by(store.positions.c.symbol)
            )
        ).all()
    views = await asyncio.gather(
        *(quote(provider, market, row.symbol) for row in rows), return_exceptions=True
    )
    found: list[Holding] = []
    for row, view in zip(rows, views, strict=True):
        known = market.instrument(row.symbol)
        if isinstance(view, BaseException):
            if not isinstance(view, OrderRejected | ProviderUnavailable):
                raise view
            price = None
        else:
            price = view.quote.price
        found.append(
            Holding(
                symbol=row.symbol,
                quantity=row.quantity,
                price=price,
                cost_basis=row.cost_basis,
                currency=account.currency,
                name=known.name if known else None,
            )
        )
    return found


async def transactions(
    db: store.Database,
    provider: str,
    credentials: Credentials,
    account_id: str,
    since: date | None,
    today: date,
) -> list[Transaction]:
    table = store.transactions
    async with db.read() as conn:
        account = await owned(conn, provider, credentials, account_id)
    await catch_up(db, account, today)
    async with db.read() as conn:
        stmt = select(table).where(table.c.account_id == account_id)
        if since is not None:
            stmt = stmt.where(table.c.date >= since)
        rows = await conn.execute(stmt.order_by(table.c.date.desc(), table.c.seq.desc()))
        return [_to_transaction(row, account.currency) for row in rows]
