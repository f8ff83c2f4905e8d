"""Every period at once (``1D`` .. ``MAX``), each measured on the one daily series the answer
is built from (no second valuation).

A period starts from the close of its *base day* and runs to the last valued day of the
window: its ``startValue`` is the value at that close, its flows those of the days after it.

* ``1D``: the valued day before the last one. ``WTD``: the Sunday before the end's ISO week.
  ``MTD``: the last day of the month before. ``YTD``: 31 December of the year before. ``1Y``,
  ``3Y``, ``5Y``: the same calendar day 1, 3, 5 years before the end (29 February: the 28th).
* The base day is the last valued day on or before that date. A period reaching before the
  window (or before the first transaction) is the window itself: ``MAX``, which starts from
  the window's opening (the close before ``start``), or, without a ``start``, from nothing
  (``startValue`` 0) with the first day's flows.
* ``twr`` chains the series' daily returns over the period; ``mwr`` is the money-weighted
  return over the period, ``(1 + x) ** (days / 365) - 1`` from the XIRR ``x`` of its flows
  (`flint.portfolio.metrics`). ``days`` counts calendar days from the base day to the last.
  The annualised forms (``annualizedTwr`` = ``(1 + twr) ** (365 / days) - 1``,
  ``annualizedMwr`` = ``x``) are given for periods of at least 365 days, null otherwise.
* Money (decimal strings at the base currency's precision): ``startValue`` and ``endValue``
  from the ledger's units and cash (`replay`) at the closes used; ``netFlows`` the external
  flows; ``absoluteGain`` = ``endValue - startValue - netFlows``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from flint.portfolio import metrics
from flint.portfolio.figure_schemas import PeriodOut
from flint.portfolio.replay import ZERO, Replay, in_currency, value_at
from flint.portfolio.valuation import Valuation

PERIODS = ("1D", "WTD", "MTD", "YTD", "1Y", "3Y", "5Y", "MAX")
YEAR_DAYS = 365


@dataclass(frozen=True)
class Opening:
    """Where the window's span starts in the valuation: index ``first``; ``opened`` when it
    opens on that day's close (a later ``start``), else on the day's own flows."""

    first: int
    opened: bool


def opening(valued: Valuation, start: date | None) -> Opening | None:
    """The window's opening (as `figures.span` cuts it); None when nothing is valued in it."""
    if not valued.dates:
        return None
    if start is None:
        return Opening(0, opened=valued.flows[0] <= 0)
    days = np.array(valued.dates, dtype="datetime64[D]")
    first = int(np.searchsorted(days, np.datetime64(start), side="left"))
    if first >= len(valued.dates):
        return None
    if first == 0:
        return Opening(0, opened=valued.flows[0] <= 0)
    return Opening(first - 1, opened=True)


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def base_date(key: str, end: date, dates: list[date]) -> date | None:
    """The date a period's base day is looked up from (None: from the window's opening)."""
    if key == "1D":
        return dates[-2] if len(dates) >= 2 else None
    if key == "WTD":
        return end - timedelta(days=end.weekday() + 1)
    if key == "MTD":
        return end.replace(day=1) - timedelta(days=1)
    if key == "YTD":
        return date(end.year - 1, 12, 31)
    if key.endswith("Y") and key[:-1].isdigit():
        return years_before(end, int(key[:-1]))
    return None


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


class _Values:
    """The Decimal value at the close of a valued day, each worked out once."""

    def __init__(self, valued: Valuation, run: Replay, currency: str) -> None:
        self.valued, self.run, self.currency = valued, run, currency
        self.known: dict[int, Decimal] = {}

    def at(self, i: int) -> Decimal:
        if i not in self.known:
            row = list(zip(self.valued.symbols, self.valued.prices[i].tolist(), strict=True))
            self.known[i] = value_at(self.run, self.valued.dates[i], row, self.currency)
        return self.known[i]


def period(
    valued: Valuation, run: Replay, base: int, from_nothing: bool, values_at: _Values
) -> PeriodOut:
    """The figures of the period that starts from the close of day ``base`` (or, with
    ``from_nothing``, from that day's flows)."""
    dates = valued.dates
    last = len(dates) - 1
    values = valued.values[base:]
    flows = valued.flows[base:].copy()
    if not from_nothing:
        flows[0] = 0.0
    currency = values_at.currency
    end_value = values_at.at(last)
    if from_nothing:
        start_value = ZERO
        net = run.flows_between(dates[base] - timedelta(days=1), dates[last])
    else:
        start_value = values_at.at(base)
        net = run.flows_between(dates[base], dates[last])
    net_flows = in_currency(net, currency)
    days = (dates[last] - dates[base]).days
    twr: float | None
    mwr = rate = None
    if len(values) == 1 and not from_nothing:
        twr, mwr = 0.0, 0.0  # nothing happened after the base day's close
    else:
        m = metrics.compute(values, flows, dates[base:])
        twr, rate = m.twr, m.mwr
        if rate is not None and days > 0:
            mwr = _finite(math.pow(1.0 + rate, days / YEAR_DAYS) - 1.0)
    yearly = days >= YEAR_DAYS
    return PeriodOut(
        start=dates[base],
        days=days,
        twr=twr,
        mwr=mwr,
        annualized_twr=(
            _finite(math.pow(1.0 + twr, YEAR_DAYS / days) - 1.0)
            if yearly and twr is not None and twr > -1.0
            else None
        ),
        annualized_mwr=rate if yearly else None,
        absolute_gain=end_value - start_value - net_flows,
        net_flows=net_flows,
        start_value=start_value,
        end_value=end_value,
    )


def table(
    valued: Valuation, run: Replay, start: date | None, end: date, currency: str
) -> dict[str, PeriodOut]:
    """Every period of `PERIODS` within the window (none when nothing is valued)."""
    opens = opening(valued, start)
    if opens is None:
        return {}
    days: Any = np.array(valued.dates, dtype="datetime64[D]")
    out: dict[str, PeriodOut] = {}
    values_at = _Values(valued, run, currency)
    for key in PERIODS:
        wanted = base_date(key, end, valued.dates)
        base = (
            int(np.searchsorted(days, np.datetime64(wanted), side="right")) - 1
            if wanted is not None
            else -1
        )
        if base < opens.first:
            out[key] = period(valued, run, opens.first, not opens.opened, values_at)
        else:
            out[key] = period(valued, run, base, False, values_at)
    return out
