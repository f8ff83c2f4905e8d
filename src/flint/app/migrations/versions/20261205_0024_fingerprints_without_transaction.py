"""portfolio_import_fingerprints without transaction_id

A fingerprint no longer names the transaction it created. Nothing read the link, and keeping it
cost a large import a fifth of its time: a foreign key checked for each row (a trigger per row
on PostgreSQL) and an index in random order, only so that deleting a transaction could set it
null. A fingerprint still outlives its transaction: a row deleted by hand is not imported again.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 08:40:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "portfolio_import_fingerprints"


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portfolio_import_fingerprints_transaction_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_portfolio_import_fingerprints_transaction_id_portfolio_transactions"),
            type_="foreignkey",
        )
        batch_op.drop_column("transaction_id")


def downgrade() -> None:
    """Downgrade schema (the links are not known again: the column comes back empty)."""
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("transaction_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_portfolio_import_fingerprints_transaction_id_portfolio_transactions"),
            "portfolio_transactions",
            ["transaction_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            batch_op.f("ix_portfolio_import_fingerprints_transaction_id"),
            ["transaction_id"],
            unique=False,
        )
