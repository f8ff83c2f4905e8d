"""`flint.portfolio.roai` computes Ghostfolio's figures from each symbol's activities alone; a
literal day-by-day transliteration of Ghostfolio's calculator (`roai_reference`) must agree
with it on every figure, for ledgers with same-day trades, partial sales, closed and reopened
positions, dividends, fees, splits, sparse prices and histories long enough for Ghostfolio to
thin its chart days."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from flint.portfolio import roai
from flint.portfolio.valuation import Entry, Series
from tests.portfolio import roai_reference


def ledger(seed: int) -> tuple[list[Entry], dict[str, Series], date]:
    rng = random.Random(seed)
    start = date(2019, 1, 4) + timedelta(days=rng.randint(0, 50))
    end = start + timedelta(days=rng.choice([5, 40, 300, 800, 1500, 2200]))
    entries = [Entry(start, "fee", None, None, None, Decimal(0), Decimal(7))]
    quoted: dict[str, Series] = {}
    for n in range(6):
        symbol = f"S{n}"
        day = start + timedelta(days=rng.randint(0, (end - start).days // 2))
        held = Decimal(10)
        entries.append(
            Entry(
                day, "buy", symbol, held, Decimal(rng.randint(50, 150)), Decimal(rng.randint(0, 2))
            )
        )
        for _ in range(8):
            day += timedelta(days=rng.choice([0, 0, 1, 3, 30, 100]))
            if day > end:
                break
            kind = rng.choice(["buy", "sell", "sell", "dividend", "fee", "split"])
            price = Decimal(rng.randint(50, 150))
            if kind == "sell" and held >= 1:
                sold = held if rng.random() < 0.3 else Decimal(rng.randint(1, int(held)))
                held -= sold
                entries.append(Entry(day, "sell", symbol, sold, price, Decimal(1)))
            elif kind == "buy":
                held += 3
                entries.append(Entry(day, "buy", symbol, Decimal(3), price, Decimal(1)))
            elif kind == "split":
                held *= 2
                entries.append(Entry(day, "split", symbol, Decimal(2)))
            elif kind in ("dividend", "fee"):
                entries.append(Entry(day, kind, symbol, None, None, Decimal(1), Decimal("3.5")))
        span = (end - start).days + 1
        priced = rng.sample(range(span), k=max(1, span // 3))
        quoted[symbol] = Series.of(
            {start + timedelta(days=d): rng.randint(6000, 16000) / 100 for d in priced}
        )
    entries.sort(key=lambda e: e.date)
    return entries, quoted, end


def close(ours: Any, theirs: Any, where: str) -> None:
    if isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), where
        for key in theirs:
            close(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            close(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float):
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-12), where
    elif isinstance(theirs, str) and where.split(".")[-1] not in ("start", "asOf", "symbol"):
        if where.split(".")[-1] != "dateOfFirstActivity":
            assert Decimal(ours) == pytest.approx(Decimal(theirs), rel=Decimal("1e-20")), where
            return
        assert ours == theirs, where
    else:
        assert ours == theirs, where


@pytest.mark.parametrize("seed", range(40))
def test_roai_agrees_with_the_day_by_day_transliteration(seed: int) -> None:
    entries, quoted, end = ledger(seed)
    ours = roai.compute(entries, quoted, end)
    theirs = roai_reference.compute(entries, quoted, end)
    assert ours is not None
    assert theirs is not None
    close(json.loads(ours.model_dump_json()), json.loads(theirs.model_dump_json()), "roai")


def test_chart_days_are_thinned_like_ghostfolio_beyond_a_year() -> None:
    """Ghostfolio's chart: every day up to 365 days; beyond, every ``round(days / 365)``th day
    from the start, every third day of the last 90 and every day of the last 30, plus the
    activity days, the range starts and each year's first and last day."""
    start, end = date(2020, 3, 1), date(2022, 3, 15)  # 744 days: a step of 2
    days = roai.chart_days({date(2021, 6, 6)}, start, end)
    assert date(2020, 3, 3) in days
    assert date(2020, 3, 2) not in days
    assert date(2021, 6, 6) in days  # an activity
    assert date(2021, 12, 31) in days
    assert date(2022, 1, 1) in days
    assert date(2022, 2, 28) in days  # MTD's start, and within the last 30 days
    assert all(end - timedelta(days=n) in days for n in range(31))
    # The last 90 days: every third day from 2021-12-15 (2021-12-18 is not on the 2-day step)
    assert date(2021, 12, 18) in days
    assert date(2021, 12, 20) not in days
    short = roai.chart_days(set(), date(2021, 1, 1), date(2021, 12, 1))
    assert short == [date(2021, 1, 1) + timedelta(days=n) for n in range(335)]
