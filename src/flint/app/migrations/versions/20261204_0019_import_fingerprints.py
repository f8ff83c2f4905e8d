"""portfolio_import_fingerprints

One row per imported row of a portfolio (the source's own id, or the hash of the normalised
row), so that importing the same file again adds only what is new. A fingerprint outlives the
transaction it created (``transaction_id`` is set null): a row deleted by hand is not imported
again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 09:28:19.318774

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "portfolio_import_fingerprints",
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("fk_portfolio_import_fingerprints_portfolio_id_portfolios"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["portfolio_transactions.id"],
            name=op.f("fk_portfolio_import_fingerprints_transaction_id_portfolio_transactions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint(
            "portfolio_id", "fingerprint", name=op.f("pk_portfolio_import_fingerprints")
        ),
    )
    with op.batch_alter_table("portfolio_import_fingerprints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portfolio_import_fingerprints_transaction_id"),
            ["transaction_id"],
            unique=False,
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("portfolio_import_fingerprints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portfolio_import_fingerprints_transaction_id"))

    op.drop_table("portfolio_import_fingerprints")
