"""Timezone-aware UTC time, the only kind Flint stores or returns."""

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import BeforeValidator


def utcnow() -> datetime:
    return datetime.now(UTC)


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_text(value: object) -> object:
    """A date parameter is a date: pydantic would also read ``0`` or ``1700000000`` as Unix
    time (``start=0`` was 1970-01-01)."""
    if isinstance(value, str) and not ISO_DATE.fullmatch(value):
        raise ValueError("must be a date: YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
"""A date given as text (a query parameter): YYYY-MM-DD and nothing else."""


def year_before(day: date) -> date:
    """The day 365 days before ``day``, or the first day there is (0001-01-01) when that is
    earlier: a default window of a year before a date someone gave (``end=0001-01-01`` was an
    OverflowError, a 500)."""
    return date.fromordinal(max(1, day.toordinal() - 365))
