"""The dates a ledger and a performance window may name: from 1900-01-01 to today (UTC).

Earlier dates have no market data and cost the calendar work of centuries (a deposit dated
0001-01-01 once made every performance request of its portfolio spend seconds in the worker);
later ones have not happened.
"""

from __future__ import annotations

from datetime import date

MIN_DATE = date(1900, 1, 1)


def date_problem(day: date, today: date) -> str | None:
    """Why ``day`` cannot be in a ledger or a window, if it cannot."""
    if day > today:
        return f"{day} is in the future"
    if day < MIN_DATE:
        return f"{day} is before {MIN_DATE}: dates from {MIN_DATE} to today are accepted"
    return None
