"""trade previews

`trade_previews`: a trade as previewed (`POST /trades/preview`), with the broker's estimate and
checked-trade id, until `POST /trades/execute {previewId}` turns it into one trade
(`trade_id`, unique).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 02:50:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# flint.db.Price: exact NUMERIC on PostgreSQL, fixed-point text on SQLite.
PRICE = sa.Numeric(precision=38, scale=18).with_variant(sa.String(length=40), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "trade_previews",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("quantity", PRICE, nullable=False),
        sa.Column("order_type", sa.String(length=16), nullable=False),
        sa.Column("time_in_force", sa.String(length=8), nullable=False),
        sa.Column("limit_price", PRICE, nullable=True),
        sa.Column("stop_price", PRICE, nullable=True),
        sa.Column("estimated_price", PRICE, nullable=False),
        sa.Column("estimated_value", PRICE, nullable=False),
        sa.Column("commission", PRICE, nullable=False),
        sa.Column("buying_power_after", PRICE, nullable=True),
        sa.Column(
            "warnings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("provider_ref", sa.String(length=128), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trade_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["linked_accounts.id"],
            name=op.f("fk_trade_previews_account_id_linked_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"],
            ["trades.id"],
            name=op.f("fk_trade_previews_trade_id_trades"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_trade_previews_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trade_previews")),
        sa.UniqueConstraint("trade_id", name=op.f("uq_trade_previews_trade_id")),
    )
    op.create_index(op.f("ix_trade_previews_user_id"), "trade_previews", ["user_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_trade_previews_user_id"), table_name="trade_previews")
    op.drop_table("trade_previews")
