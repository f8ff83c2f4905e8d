"""import_payload_uncompressed

A background import's file is kept uncompressed on PostgreSQL (``STORAGE EXTERNAL``: out of line,
as before, without pglz): it is written once, read once by the worker and dropped when the import
is done, and compressing it held a server core for as long as the API took to take the whole file
in (a 3.4 MB CSV: 65 ms of the backend's CPU to write, 10 ms more to read; uncompressed, 13 ms and
6 ms), while the requests of everyone else waited for a core. SQLite has no such setting.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 04:10:00.000000

"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0030"
down_revision: str | Sequence[str] | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE portfolio_import_jobs ALTER COLUMN payload SET STORAGE EXTERNAL")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE portfolio_import_jobs ALTER COLUMN payload SET STORAGE EXTENDED")
