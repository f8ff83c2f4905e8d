"""portfolio_import_jobs

A file imported in the background: the file until a worker has imported (or refused) it, then
its outcome (the counts, or the problem document).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 12:20:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "portfolio_import_jobs",
        sa.Column("portfolio_id", sa.Uuid(), nullable=False),
        sa.Column("preset", sa.String(length=16), nullable=False),
        sa.Column("on_duplicate", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("problem", JSON, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["portfolio_id"],
            ["portfolios.id"],
            name=op.f("fk_portfolio_import_jobs_portfolio_id_portfolios"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_import_jobs")),
    )
    with op.batch_alter_table("portfolio_import_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_portfolio_import_jobs_portfolio", ["portfolio_id", "created_at"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("portfolio_import_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_portfolio_import_jobs_portfolio")

    op.drop_table("portfolio_import_jobs")
