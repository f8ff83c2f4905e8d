"""the successor of a refresh token

`refresh_tokens.successor`: the pair a refresh token was exchanged for, sealed with a key
derived from that token (which the database never holds), so a second exchange within the
grace period (two tabs refreshing at once) answers the same pair.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 17:51:37.598873

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("successor", sa.Text(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("successor")
