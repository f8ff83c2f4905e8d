"""Packaged reference data of the simulated market: reference closes, splits and dividends.

The three files live in ``flint/market/data`` (see the README there for their sources):

* ``reference_closes.csv``: each instrument's close on the reference date (the last session
  of 2024), the level the simulation passes through on that date;
* ``splits.csv``: real stock splits of well-known instruments;
* ``dividends.csv``: quarterly dividend schedules of well-known payers.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources

from flint.kit.calendar import XNYS, is_trading_day, next_trading_day

_DATA_PACKAGE = "flint.market"
_DATE_LINE = re.compile(r"#\s*reference_date:\s*(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True, slots=True)
class Split:
    """``ratio`` new shares for each old one, from the session of ``ex_date`` on."""

    ex_date: date
    ratio: Decimal


@dataclass(frozen=True, slots=True)
class Dividend:
    """``amount`` per share (on the basis of its day) to holders before ``ex_date``."""

    ex_date: date
    amount: Decimal


def _lines(name: str) -> list[str]:
    return resources.files(_DATA_PACKAGE).joinpath("data", name).read_text("utf-8").splitlines()


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(line for line in _lines(name) if not line.startswith("#")))


@lru_cache(maxsize=1)
def reference_date() -> date:
    """The date of the reference closes, as the data file states it."""
    for line in _lines("reference_closes.csv"):
        found = _DATE_LINE.match(line)
        if found:
            return date.fromisoformat(found.group(1))
    raise ValueError("reference_closes.csv does not state its reference_date")


@lru_cache(maxsize=1)
def reference_closes() -> dict[str, float]:
    """Symbol to close on :func:`reference_date`, for instruments that traded that day."""
    return {
        row["symbol"]: float(row["close"]) for row in _rows("reference_closes.csv") if row["close"]
    }


@lru_cache(maxsize=1)
def _all_splits() -> dict[str, tuple[Split, ...]]:
    found: dict[str, list[Split]] = {}
    for row in _rows("splits.csv"):
        split = Split(date.fromisoformat(row["ex_date"]), Decimal(row["ratio"]))
        found.setdefault(row["symbol"], []).append(split)
    return {
        symbol: tuple(sorted(items, key=lambda s: s.ex_date)) for symbol, items in found.items()
    }


def splits(symbol: str) -> tuple[Split, ...]:
    """The splits of ``symbol``, oldest first (empty for most instruments)."""
    return _all_splits().get(symbol, ())


@lru_cache(maxsize=1)
def _schedules() -> dict[str, dict[str, str]]:
    return {row["symbol"]: row for row in _rows("dividends.csv")}


def _split_factor(items: tuple[Split, ...], day: date) -> Decimal:
    """How many of today's shares one share of ``day`` became (splits after ``day``)."""
    factor = Decimal(1)
    for split in items:
        if split.ex_date > day:
            factor *= split.ratio
    return factor


@lru_cache(maxsize=256)
def dividends(symbol: str, last_year: int) -> tuple[Dividend, ...]:
    """The quarterly dividends of ``symbol`` up to ``last_year``, oldest first.

    The amount of year ``y`` is ``amount_2024 * (1 + growth) ** (y - 2024)`` rounded to 0.001
    (0.0001 below one cent), on the share basis of the reference date, then multiplied by the
    splits that came after the ex-date so it is per share of its own day.
    """
    row = _schedules().get(symbol)
    if row is None:
        return ()
    first = date.fromisoformat(row["first"])
    base, growth = float(row["amount_2024"]), float(row["growth"])
    month_days = [tuple(int(x) for x in part.split("-")) for part in row["ex_dates"].split()]
    items = splits(symbol)
    found: list[Dividend] = []
    for year in range(first.year, last_year + 1):
        amount = base * math.pow(1.0 + growth, year - 2024)
        step = Decimal("0.001") if amount >= 0.01 else Decimal("0.0001")
        rounded = (
            Decimal(repr(amount)).quantize(step) if year != 2024 else Decimal(row["amount_2024"])
        )
        for month, day in month_days:
            ex = _session_on_or_after(date(year, month, min(day, 28 if month == 2 else day)))
            if ex >= first:
                found.append(Dividend(ex, rounded * _split_factor(items, ex)))
    return tuple(found)


def _session_on_or_after(day: date) -> date:
    return day if is_trading_day(day, XNYS) else next_trading_day(day, XNYS)
