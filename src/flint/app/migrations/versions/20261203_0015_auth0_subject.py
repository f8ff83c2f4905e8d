"""auth0 subject

`users.auth0_sub`: the Auth0 user (an access token's `sub`) a Flint user signs in as. Unique, so
two first requests of one new Auth0 user racing each other create a single Flint user.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 19:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema.

    Plain ALTERs, not a batch: on SQLite a batch would copy the table, and the copy would lose
    the expression index `uq_users_email_lower` (Alembic cannot reflect it)."""
    op.add_column("users", sa.Column("auth0_sub", sa.String(length=255), nullable=True))
    op.create_index("uq_users_auth0_sub", "users", ["auth0_sub"], unique=True)


def downgrade() -> None:
    """Downgrade schema (SQLite 3.35 or later drops a column in place)."""
    op.drop_index("uq_users_auth0_sub", table_name="users")
    op.drop_column("users", "auth0_sub")
