"""snaptrade webhooks

`snaptrade_webhooks`: each verified SnapTrade webhook of a kind Flint handles, once per
`webhookId` (the primary key), with the user, connection and account it names, its
`eventTimestamp`, and when a worker handled it.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 03:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "snaptrade_webhooks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("connection_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snaptrade_webhooks")),
    )
    op.create_index(
        "ix_snaptrade_webhooks_connection",
        "snaptrade_webhooks",
        ["connection_id", "occurred_at"],
        unique=False,
    )
    op.create_index(
        "ix_snaptrade_webhooks_pending",
        "snaptrade_webhooks",
        ["handled_at", "received_at"],
        unique=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_snaptrade_webhooks_pending", table_name="snaptrade_webhooks")
    op.drop_index("ix_snaptrade_webhooks_connection", table_name="snaptrade_webhooks")
    op.drop_table("snaptrade_webhooks")
