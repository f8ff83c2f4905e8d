"""i18-ledger: portfolios.allow_negative_cash

Whether a withdrawal may take a portfolio's cash below zero (false: such a withdrawal is
refused).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 06:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("portfolios", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "allow_negative_cash", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("portfolios", schema=None) as batch_op:
        batch_op.drop_column("allow_negative_cash")
