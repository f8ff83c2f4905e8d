"""portfolio_source

What an import made a portfolio of (a Ghostfolio account), so a newer export of it is
imported into the same portfolio: one per user and source.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 18:10:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("portfolios", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=200), nullable=True))
        batch_op.create_index("uq_portfolios_user_source", ["user_id", "source"], unique=True)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("portfolios", schema=None) as batch_op:
        batch_op.drop_index("uq_portfolios_user_source")
        batch_op.drop_column("source")
