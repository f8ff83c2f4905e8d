"""The sandbox institution's own tables: links, accounts, positions, transactions and orders.

They live in the sandbox's database (``FLINT_SANDBOX_DATABASE_URL``, default
``data_dir/sandbox.db``), not Flint's: the sandbox plays a separate institution, so it has its
own `MetaData`, created on first use with ``create_all`` (no Alembic history).

Money, quantities and prices are `DecimalValue`: exact on every backend (text on SQLite, whose
NUMERIC would pass them through binary floats; unconstrained NUMERIC on PostgreSQL, which keeps
the scale it is given).
"""

from __future__ import annotations

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
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from flint.db import NAMING_CONVENTION, UTCDateTime


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
