"""The profile's "no email" kept as the notification preferences' choice

``PATCH /users/me`` kept ``preferences.notifications`` (``email``, ``sms``) on the user's row
and showed it back, but notifications were sent by ``notification_preferences`` alone: a user
who turned email off there went on being emailed. The profile's switches read and write those
preferences now; this carries over the one choice the old column holds that a user would
expect honoured, email turned off, to every kind the user chooses (security notices still go
by email), and drops the old copy. SMS turned on there needs a phone number the profile never
asked for, so it is not carried over.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 11:00:00.000000

"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

# revision identifiers, used by Alembic.
revision: str = "0027"
down_revision: str | Sequence[str] | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
CHOOSABLE = ("trade", "report", "price_alert", "account", "billing")
"""The kinds whose channels a user chooses, as of this revision (email alone by default)."""

users = sa.table("users", sa.column("id", sa.Uuid), sa.column("preferences", JSON))
choices = sa.table(
    "notification_preferences",
    sa.column("user_id", sa.Uuid),
    sa.column("channels", JSON),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    """Email off in the profile: off for every choosable kind; the old copy dropped."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    stamp = now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now
    for user_id, stored in bind.execute(sa.select(users.c.id, users.c.preferences)).all():
        preferences = dict(_loaded(stored) or {})
        switches = preferences.pop("notifications", None)
        if isinstance(switches, dict) and switches.get("email") is False:
            row = bind.execute(
                sa.select(choices.c.channels).where(choices.c.user_id == user_id)
            ).first()
            kept = dict(_loaded(row[0]) or {}) if row is not None else {}
            channels = {
                kind: sorted(set(kept.get(kind, ["email"])) - {"email"}) for kind in CHOOSABLE
            }
            if row is None:
                bind.execute(
                    choices.insert().values(user_id=user_id, channels=channels, updated_at=stamp)
                )
            else:
                bind.execute(
                    choices.update()
                    .where(choices.c.user_id == user_id)
                    .values(channels=channels, updated_at=stamp)
                )
        if switches is not None:
            bind.execute(
                users.update().where(users.c.id == user_id).values(preferences=preferences)
            )


def downgrade() -> None:
    """The profile's copy is not restored: the preferences hold what it said."""
