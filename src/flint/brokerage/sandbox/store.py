"""The sandbox institution's own database: its tables (links, accounts, positions, transactions
and orders), the engine they live behind, and the row look-ups every side shares.

They live in the sandbox's database (``FLINT_SANDBOX_DATABASE_URL``, default
``data_dir/sandbox.db``), not Flint's: the sandbox plays a separate institution, so it has its
own `MetaData`, created on first use with ``create_all`` (no Alembic history).

Money, quantities and prices are `DecimalValue`: exact on every backend (text on SQLite, whose
NUMERIC would pass them through binary floats; unconstrained NUMERIC on PostgreSQL, which keeps
the scale it is given).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Row,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from flint.brokerage.types import OrderStatus
from flint.db import NAMING_CONVENTION, READ_ONLY, UTCDateTime, create_engine

_SETUP_LOCK_ID = 0x5A4D_B0C5  # pg_advisory_xact_lock key: one create_all at a time


class DecimalValue(TypeDecorator[Decimal]):
    """An exact Decimal: TEXT on SQLite, NUMERIC (no fixed scale) on PostgreSQL."""

    impl = String(64)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(f"sandbox amounts are finite Decimals, got {value!r}")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


metadata = MetaData(naming_convention=NAMING_CONVENTION)

links = Table(
    "sandbox_links",
    metadata,
    Column("key", String(64), primary_key=True, comment="sha256 of the link code, hex"),
    Column("created_at", UTCDateTime(), nullable=False),
)

terms = Table(
    "sandbox_terms",
    metadata,
    Column("link_key", String(64), primary_key=True),
    Column("commission", DecimalValue(), nullable=False, comment="dollars per order"),
    Column("partial", Boolean, nullable=False, comment="orders fill in two parts"),
    Column("always_open", Boolean, nullable=False, comment="orders trade at any hour"),
)
"""A link's trading terms, set by its code (a link made before they existed has none: no
commission, whole fills, market hours)."""

accounts = Table(
    "sandbox_accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("link_key", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(100), nullable=False),
    Column("mask", String(8), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("cash", DecimalValue(), nullable=False, comment="cash, or a bank's ledger balance"),
    Column("created_at", UTCDateTime(), nullable=False),
)

positions = Table(
    "sandbox_positions",
    metadata,
    Column("account_id", String(64), ForeignKey(accounts.c.id), primary_key=True),
    Column("symbol", String(32), primary_key=True),
    Column("quantity", DecimalValue(), nullable=False),
    Column("cost_basis", DecimalValue(), nullable=False),
)

transactions = Table(
    "sandbox_transactions",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("account_id", String(64), ForeignKey(accounts.c.id), nullable=False),
    Column("seq", Integer, nullable=False, comment="chronological order within the account"),
    Column("date", Date, nullable=False),
    Column("amount", DecimalValue(), nullable=False),
    Column("description", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("category", String(40), nullable=True),
    Column("type", String(40), nullable=True),
    Column("symbol", String(32), nullable=True),
    Column("quantity", DecimalValue(), nullable=True),
    Column("price", DecimalValue(), nullable=True),
    Index("ix_sandbox_transactions_account_seq", "account_id", "seq", unique=True),
)

orders = Table(
    "sandbox_orders",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(64), ForeignKey(accounts.c.id), nullable=False),
    Column("client_order_id", String(200), nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("action", String(8), nullable=False),
    Column("quantity", DecimalValue(), nullable=False),
    Column("order_type", String(16), nullable=False),
    Column("time_in_force", String(8), nullable=False),
    Column("limit_price", DecimalValue(), nullable=True),
    Column("stop_price", DecimalValue(), nullable=True),
    Column("status", String(20), nullable=False),
    Column("triggered", Boolean, nullable=False, default=False),
    Column("trading_day", Date, nullable=False, comment="New York date it was placed on"),
    Column("filled_quantity", DecimalValue(), nullable=False),
    Column("average_price", DecimalValue(), nullable=True),
    Column("reason", String(200), nullable=True),
    Column("placed_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("filled_at", UTCDateTime(), nullable=True),
    UniqueConstraint("account_id", "client_order_id"),
    Index("ix_sandbox_orders_status", "status"),
)


class Database:
    """The sandbox's engine on ``database_url``; every operation is its own short transaction,
    and the tables are created on first use."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._engine = create_engine(database_url)
        self._reader = self._engine.execution_options(**READ_ONLY)
        self._ready = False
        self._ready_lock = asyncio.Lock()

    async def dispose(self) -> None:
        await self._engine.dispose()

    async def _setup(self) -> None:
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            async with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(text(f"SELECT pg_advisory_xact_lock({_SETUP_LOCK_ID})"))
                await conn.run_sync(metadata.create_all)
            self._ready = True

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        await self._setup()
        async with self._reader.begin() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        await self._setup()
        async with self._engine.begin() as conn:
            yield conn


async def lock_account(conn: AsyncConnection, account_id: str) -> Row[Any]:
    stmt = select(accounts).where(accounts.c.id == account_id).with_for_update()
    return (await conn.execute(stmt)).one()


async def position_row(conn: AsyncConnection, account_id: str, symbol: str) -> Row[Any] | None:
    stmt = select(positions).where(
        positions.c.account_id == account_id, positions.c.symbol == symbol
    )
    return (await conn.execute(stmt)).first()


@dataclass(frozen=True)
class Terms:
    commission: Decimal = Decimal("0.00")
    partial: bool = False
    always_open: bool = False


async def terms_of(conn: AsyncConnection, account_id: str) -> Terms:
    """The trading terms of the link ``account_id`` belongs to."""
    stmt = select(terms).join(accounts, accounts.c.link_key == terms.c.link_key)
    row = (await conn.execute(stmt.where(accounts.c.id == account_id))).first()
    if row is None:
        return Terms()
    return Terms(row.commission, bool(row.partial), bool(row.always_open))


OPEN = (OrderStatus.SUBMITTED.value, OrderStatus.PARTIALLY_FILLED.value)
"""The statuses of an order still working."""


async def open_orders(conn: AsyncConnection, account_id: str | None) -> list[Row[Any]]:
    """The orders still working, of one account or (None) all, oldest first."""
    stmt = select(orders).where(orders.c.status.in_(OPEN))
    if account_id is not None:
        stmt = stmt.where(orders.c.account_id == account_id)
    return list((await conn.execute(stmt.order_by(orders.c.placed_at, orders.c.id))).all())


async def order_row(conn: AsyncConnection, account_id: str, **where: str) -> Row[Any] | None:
    stmt = select(orders).where(orders.c.account_id == account_id)
    for column, value in where.items():
        stmt = stmt.where(orders.c[column] == value)
    return (await conn.execute(stmt)).first()
