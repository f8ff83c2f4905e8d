"""a portfolio follows a linked brokerage account

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 21:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("portfolios", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sync_report", JSON, nullable=True))
        batch_op.create_index(batch_op.f("ix_portfolios_account_id"), ["account_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_portfolios_account_id_linked_accounts"),
            "linked_accounts",
            ["account_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("portfolio_transactions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source_transaction_id", sa.String(length=200), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_portfolio_transactions_portfolio_id_source_transaction_id"),
            ["portfolio_id", "source_transaction_id"],
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("portfolio_transactions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_portfolio_transactions_portfolio_id_source_transaction_id"),
            type_="unique",
        )
        batch_op.drop_column("source_transaction_id")

    with op.batch_alter_table("portfolios", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_portfolios_account_id_linked_accounts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_portfolios_account_id"))
        batch_op.drop_column("sync_report")
        batch_op.drop_column("last_synced_at")
        batch_op.drop_column("account_id")
