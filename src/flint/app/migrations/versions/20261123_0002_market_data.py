"""market data

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:56:30.282913

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# flint.db.Price: exact NUMERIC on PostgreSQL, fixed-point text on SQLite.
PRICE = sa.Numeric(precision=38, scale=18).with_variant(sa.String(length=40), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "market_data",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", PRICE, nullable=False),
        sa.Column("high", PRICE, nullable=False),
        sa.Column("low", PRICE, nullable=False),
        sa.Column("close", PRICE, nullable=False),
        sa.Column("adj_close", PRICE, nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("data_type", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "data_type IN ('real-time', 'historical')", name=op.f("ck_market_data_data_type")
        ),
        sa.PrimaryKeyConstraint("symbol", "interval", "timestamp", name=op.f("pk_market_data")),
    )
    op.create_table(
        "market_quotes",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("price", PRICE, nullable=False),
        sa.Column("change", PRICE, nullable=False),
        sa.Column("change_percent", PRICE, nullable=False),
        sa.Column("open", PRICE, nullable=False),
        sa.Column("high", PRICE, nullable=False),
        sa.Column("low", PRICE, nullable=False),
        sa.Column("previous_close", PRICE, nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_market_quotes")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("market_quotes")
    op.drop_table("market_data")
