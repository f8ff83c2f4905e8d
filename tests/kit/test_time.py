"""`kit.time.year_before`: a default window of a year before a date someone gave."""

from __future__ import annotations

from datetime import date

import pytest

from flint.kit.time import year_before


@pytest.mark.parametrize(
    ("day", "before"),
    [
        (date(2024, 12, 31), date(2024, 1, 1)),  # 2024 has 366 days
        (date(2025, 3, 1), date(2024, 3, 1)),
        (date(1, 12, 31), date(1, 1, 1)),
        (date(1, 6, 30), date(1, 1, 1)),  # timedelta's subtraction: OverflowError
        (date(1, 1, 1), date(1, 1, 1)),
    ],
)
def test_a_year_before_stops_at_the_first_day_there_is(day: date, before: date) -> None:
    assert year_before(day) == before
