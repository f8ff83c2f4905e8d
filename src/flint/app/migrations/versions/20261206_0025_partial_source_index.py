"""portfolio_transactions: the source ids' unique index only over the rows that have one

Only rows mirrored from a followed account carry ``source_transaction_id``; every row imported
or entered by hand left a NULL entry in the unique index all the same (a 100,000-row import:
100,000 index entries written for nothing). The partial index holds the same rule, one
mirrored row per source id and portfolio, over the rows it concerns.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 01:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "portfolio_transactions"
COLUMNS = ["portfolio_id", "source_transaction_id"]
OLD = "uq_portfolio_transactions_portfolio_id_source_transaction_id"
NEW = "uq_portfolio_transactions_source"
HAS_SOURCE = sa.text("source_transaction_id IS NOT NULL")


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint(OLD, type_="unique")
        batch_op.create_index(
            NEW, COLUMNS, unique=True, postgresql_where=HAS_SOURCE, sqlite_where=HAS_SOURCE
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(NEW)
        batch_op.create_unique_constraint(OLD, COLUMNS)
