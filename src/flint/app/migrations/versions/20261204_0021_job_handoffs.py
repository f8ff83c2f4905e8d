"""job_handoffs

Jobs committed but not yet handed to the broker (`flint.handoffs`): written in the transaction
that enqueues them, deleted once the broker has them, relayed when their hand-off failed.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 15:22:15.914142

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "job_handoffs",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("args", JSON, nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_handoffs")),
    )
    with op.batch_alter_table("job_handoffs", schema=None) as batch_op:
        batch_op.create_index("ix_job_handoffs_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("job_handoffs", schema=None) as batch_op:
        batch_op.drop_index("ix_job_handoffs_created_at")

    op.drop_table("job_handoffs")
