"""sign_ins

One row per sign-in (a refresh-token family): the device and address it is used from and when,
for the list of signed-in devices. The sign-ins alive at the upgrade get theirs, with what the
refresh tokens tell (when they began and were last exchanged).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 15:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0029"
down_revision: str | Sequence[str] | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "sign_ins",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("user_agent", sa.String(length=256), nullable=True),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sign_ins_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_ins")),
    )
    op.create_index(op.f("ix_sign_ins_user_id"), "sign_ins", ["user_id"], unique=False)
    op.execute(
        "INSERT INTO sign_ins (id, user_id, created_at, last_active_at) "
        "SELECT family_id, user_id, MIN(created_at), MAX(created_at) FROM refresh_tokens "
        "GROUP BY family_id, user_id"
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("ix_sign_ins_user_id"), table_name="sign_ins")
    op.drop_table("sign_ins")
