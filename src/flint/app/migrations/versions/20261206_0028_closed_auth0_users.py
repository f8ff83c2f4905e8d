"""closed_auth0_users

The Auth0 users whose Flint accounts were closed (the SHA-256 of their ``sub``, and when), so
that Auth0's tokens issued before the closing do not make a new account.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 12:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0028"
down_revision: str | Sequence[str] | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "closed_auth0_users",
        sa.Column("sub_digest", sa.String(length=64), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sub_digest", name=op.f("pk_closed_auth0_users")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("closed_auth0_users")
