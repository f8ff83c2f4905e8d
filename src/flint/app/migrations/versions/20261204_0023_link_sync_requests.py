"""link_sync_requests

A sync of a link sent to the worker and not yet begun (`flint.accounts.sync_requests`): one
sync for a burst of requests.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 18:45:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "account_link_sync_requests",
        sa.Column("link_id", sa.Uuid(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["account_links.id"],
            name=op.f("fk_account_link_sync_requests_link_id_account_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("link_id", name=op.f("pk_account_link_sync_requests")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("account_link_sync_requests")
