"""`flint.reads`: a `Query` run on the driver gives exactly the rows SQLAlchemy gives for the
same statement (values and their Python types), on both backends; the PostgreSQL read pool
refuses writes; a read survives the server closing its connection."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from flint import reads as reads_module
from flint.app import models  # noqa: F401 (every table)
from flint.db import create_engine, create_read_engine, open_sqlite_reader
from flint.kit.db_errors import database_unavailable
from flint.kit.paging import page_of
from flint.kit.time import utcnow
from flint.notifications import inbox
from flint.notifications.models import Notification
from flint.portfolio import service as portfolios
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.reads import Query, Reads
from flint.trades import service as trades
from flint.users.models import User
from flint.watchlist import service as watchlist

LEDGER = Query(
    select(
        PortfolioTransaction.id,
        PortfolioTransaction.date,
        PortfolioTransaction.type,
        PortfolioTransaction.symbol,
        PortfolioTransaction.quantity,
        PortfolioTransaction.price,
        PortfolioTransaction.fee,
        PortfolioTransaction.amount,
        PortfolioTransaction.created_at,
    )
    .where(PortfolioTransaction.portfolio_id == bindparam("portfolio_id"))
    .where(PortfolioTransaction.fee >= Decimal("0"))  # a literal the statement carries
    .order_by(PortfolioTransaction.seq)
    .limit(10)
)


class World:
    def __init__(self, engine: AsyncEngine, reads: Reads, user: uuid.UUID) -> None:
        self.engine, self.reads, self.user = engine, reads, user
        self.portfolio = uuid.uuid4()
        self.notifications: list[uuid.UUID] = []


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    engine = create_engine(database_url)
    reader = create_read_engine(engine)
    user = uuid.uuid4()
    found = World(engine, Reads(reader), user)
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(
            insert(User).values(id=user, email=f"{user}@example.com", hashed_password="x")
        )
        await conn.execute(
            insert(Portfolio).values(
                id=found.portfolio, user_id=user, name="Ré", base_currency="EUR", created_at=now
            )
        )
        rows = [
            {"type": "deposit", "amount": Decimal("1000.5"), "fee": Decimal("0")},
            {
                "type": "buy",
                "symbol": "AAPL",
                "quantity": Decimal("0.123456789012345678"),
                "price": Decimal("187.25"),
                "fee": Decimal("1.99"),
            },
            {"type": "dividend", "symbol": "AAPL", "amount": Decimal("12345678901234567890")},
        ]
        for seq, row in enumerate(rows):
            await conn.execute(
                insert(PortfolioTransaction).values(
                    portfolio_id=found.portfolio, seq=seq, date=date(2024, 3, 1 + seq), **row
                )
            )
        for index in range(5):
            ident = uuid.uuid4()
            found.notifications.append(ident)
            await conn.execute(
                insert(Notification).values(
                    id=ident,
                    user_id=user,
                    kind="trade",
                    title=f"Filled {index}",
                    body="Your order was filled.",
                    data={"tradeId": str(ident), "price": "187.25", "nested": [1, None]},
                    read_at=now if index % 2 else None,
                    created_at=now - timedelta(minutes=index),
                )
            )
    yield found
    await found.reads.close()
    await reader.dispose()
    await engine.dispose()


async def _sqlalchemy_rows(world: World, query: Query, **params: Any) -> list[tuple[Any, ...]]:
    async with world.engine.connect() as conn:
        return [tuple(row) for row in await conn.execute(query.statement, params)]


def _typed(rows: list[Any]) -> list[list[tuple[type, Any]]]:
    return [[(type(value), value) for value in row] for row in rows]


async def test_rows_are_what_sqlalchemy_returns(world: World) -> None:
    cases: list[tuple[Query, dict[str, Any]]] = [
        (LEDGER, {"portfolio_id": world.portfolio}),
        (portfolios.LIST, {"user_id": world.user}),
        (watchlist.LIST, {"user_id": world.user}),
        (inbox.UNREAD, {"user_id": world.user}),
        (inbox.PAGES[False, False], {"user_id": world.user, "limit": 3}),
        (inbox.PAGES[True, False], {"user_id": world.user, "limit": 10}),
        (
            trades.LISTS[True, True, False],
            {"user_id": world.user, "account_id": uuid.uuid4(), "status": "filled", "limit": 5},
        ),
        (
            trades.LISTS[False, False, True],
            {"user_id": world.user, "limit": 5}
            | {"after_at": datetime.now(UTC), "after_id": uuid.uuid4()},
        ),
    ]
    for query, params in cases:
        ours = await world.reads.all(query, **params)
        theirs = await _sqlalchemy_rows(world, query, **params)
        assert _typed([tuple(row) for row in ours]) == _typed(theirs), query.statement
    ledger = await world.reads.all(LEDGER, portfolio_id=world.portfolio)
    assert [row.type for row in ledger] == ["deposit", "buy", "dividend"]
    assert ledger[1].quantity == Decimal("0.123456789012345678")
    assert ledger[2].amount == Decimal("12345678901234567890")
    assert ledger[0].created_at.tzinfo is not None


async def test_keyset_pages_follow_the_cursor(world: World) -> None:
    def page(cursor: str | None, unread: bool = False) -> Any:
        return inbox.page(world.reads, world.user, unread=unread, limit=2, cursor=cursor)

    first = await page(None)
    assert [row.id for row in first.rows] == world.notifications[:2]
    assert first.next_cursor is not None
    second = await page(first.next_cursor)
    assert [row.id for row in second.rows] == world.notifications[2:4]
    last = await page(second.next_cursor)
    assert [row.id for row in last.rows] == world.notifications[4:]
    assert last.next_cursor is None
    # Every page, and a page past the end, says the user's whole unread count.
    _, at_the_end = page_of([last.rows[-1]] * 2, 1, "created_at", "id")  # its own cursor
    beyond = await page(at_the_end)
    assert beyond.rows == []
    assert [p.unread for p in (first, second, last, beyond)] == [3, 3, 3, 3]
    assert await inbox.count_unread(world.reads, world.user) == 3
    row = first.rows[0]
    assert row.data == {"tradeId": str(row.id), "price": "187.25", "nested": [1, None]}


async def test_an_unknown_parameter_name_is_refused(world: World) -> None:
    with pytest.raises(KeyError):
        await world.reads.all(watchlist.LIST, user=world.user)


ON_POSTGRESQL = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@ON_POSTGRESQL
async def test_the_postgresql_read_pool_refuses_writes(world: World) -> None:
    async with world.reads.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await conn.execute(text("DELETE FROM notifications"))
    assert await inbox.count_unread(world.reads, world.user) == 3


READ_ONLY = Query(select(func.current_setting("transaction_read_only").label("read_only")))


@ON_POSTGRESQL
async def test_the_reads_pool_is_read_only_and_decodes_json_as_sqlalchemy_does(
    world: World,
) -> None:
    """`Reads` keeps a pool of its own on PostgreSQL (asyncpg's): its transactions are
    read-only like the read engine's, and JSON comes back decoded, not as text."""
    assert await world.reads.scalar(READ_ONLY) == "on"
    first = (await inbox.page(world.reads, world.user, unread=False, limit=1, cursor=None)).rows
    assert first[0].data == {"tradeId": str(first[0].id), "price": "187.25", "nested": [1, None]}


@ON_POSTGRESQL
async def test_a_read_waits_for_a_pooled_connection_no_longer_than_the_pool_timeout(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every read connection taken, a read gives up after the read engine's pool timeout
    with SQLAlchemy's pool error, which the API answers 503 (asyncpg's pool waits forever)."""
    monkeypatch.setattr(reads_module, "PG_READ_POOL_SIZE", 1)
    monkeypatch.setattr(reads_module, "PG_READ_POOL_OVERFLOW", 0)
    engine = create_async_engine(world.reads.engine.url, pool_timeout=0.5)
    reads = Reads(engine)
    try:
        pid = await reads.scalar(PID)  # opens the pool of one
        slow = asyncio.create_task(reads.scalar(SLEEP))  # the only connection, held
        await asyncio.sleep(0.2)
        waited = time.monotonic()
        with pytest.raises(PoolTimeout) as refused:
            await asyncio.wait_for(reads.scalar(READ_ONLY), timeout=10)
        waited = time.monotonic() - waited
        assert not slow.done()
        await slow
        assert database_unavailable(refused.value)
        # At once, and the busy connection kept: a timeout is not a broken connection (every
        # connection was replaced and the read waited a second time).
        assert waited < 0.95
        assert await reads.scalar(PID) == pid  # free again, the same server process
    finally:
        await reads.close()
        await engine.dispose()


PID = Query(select(func.pg_backend_pid().label("pid")))
SLEEP = Query(select(func.pg_sleep(1.5).label("slept")))


@ON_POSTGRESQL
async def test_a_read_is_one_statement_on_the_server(world: World) -> None:
    """A connection handed back to the read pool is not sent asyncpg's reset query
    (``RESET ALL`` and the rest: a second round trip per read); the server's last statement on
    it is the read itself."""
    pid = await world.reads.scalar(PID)
    async with world.engine.connect() as conn:
        last = await conn.scalar(
            text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
    assert "pg_backend_pid" in last
    assert "RESET ALL" not in last


@ON_POSTGRESQL
async def test_a_read_survives_the_server_closing_its_connection(world: World) -> None:
    pid = await world.reads.scalar(PID)
    async with world.engine.connect() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert await world.reads.scalar(PID) != pid  # a fresh connection answered
    assert len(await world.reads.all(watchlist.LIST, user_id=world.user)) == 0
    assert await world.reads.scalar(inbox.UNREAD, user_id=world.user) == 3


async def test_the_sqlite_reader_refuses_writes_and_sees_each_commit(world: World) -> None:
    if world.engine.dialect.name != "sqlite":
        return  # PostgreSQL's read pool: test_the_postgresql_read_pool_refuses_writes
    reader = open_sqlite_reader(world.engine)
    assert reader is not None
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.execute("DELETE FROM notifications")
    finally:
        reader.close()
    assert await inbox.count_unread(world.reads, world.user) == 3
    async with world.engine.begin() as conn:  # a write committed after the reader's last read
        await conn.execute(text("UPDATE notifications SET read_at = NULL"))
    assert await inbox.count_unread(world.reads, world.user) == 5
