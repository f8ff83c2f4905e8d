"""Timezone-aware UTC time, the only kind Flint stores or returns."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
