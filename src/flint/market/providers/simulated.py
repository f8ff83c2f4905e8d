"""``simulated``: the offline, deterministic market-data provider used by default and in tests.

Prices follow a seeded geometric Brownian motion per instrument (see ``_simpath``) that passes
through the instrument's real close of the reference date, 2024-12-31
(``data/reference_closes.csv``), and runs forward and backward from there, with volatility,
drift and shared factors (market, sector, bonds, crypto, gold) chosen by asset class
and sector (see ``_simparams``).
The same symbol and date always give the same bar, whatever the machine and whatever order the
requests come in.

Conventions:

* A daily bar is stamped with its session's opening instant in UTC: 09:30 New York time for
  equities, ETFs and indices, 00:00 UTC for crypto and FX. So ``timestamp.date()`` is always
  the trading date. Intraday bars are stamped with their start and aligned to the session open
  (NYSE hourly bars start at 09:30, 10:30, ... and the last one is 30 minutes long). A 1wk bar
  covers a Monday-Sunday week and a 1mo bar a calendar month. Each is stamped with the opening
  instant of its period's first session and aggregates every session of the period, so a period
  only partly inside ``[start, end]`` is returned whole.
* ``history`` returns completed bars only. A daily bar appears once its session has closed, and
  an intraday bar once its end has passed. ``quote`` describes the session in progress. Outside
  session hours it gives the last session, with ``price`` equal to that session's close.
* Prices are as traded on their day: before a split (the real ones of ``data/splits.csv``, e.g.
  AAPL 4:1 on 2020-08-31) they are the pre-split prices, and on the ex-date the open, and the
  quote's ``previous_close``, are on the new basis. A daily bar's ``adj_close`` allows, as
  Yahoo's does, for every split and cash dividend (``data/dividends.csv``) with an ex-date after
  the bar and on or before ``now``: a dividend multiplies earlier closes by
  ``1 - amount / close before the ex-date``. Intraday bars have ``adj_close == close``.
  :meth:`SimulatedMarket.actions` lists the splits and dividends. Volume is in shares for
  equities and ETFs, in USD for crypto, in index units for indices, and in ticks for FX.
* The simulation covers 1970-2100. An intraday request may span at most 31 days for 1m, 62 days
  for 5m and 15m, and 731 days for 1h; a longer one raises ``HistoryRangeTooLarge``.
"""

from __future__ import annotations

import asyncio
import bisect
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Literal

import numpy as np

from flint.kit.calendar import (
    Session,
    latest_session,
    local_date,
    session,
    session_close,
    session_opens,
    trading_days,
)
from flint.market.providers._simdata import Dividend, dividends, splits
from flint.market.providers._simparams import Pricing, pricing_for
from flint.market.providers._simpath import (
    FIRST_YEAR,
    LAST_YEAR,
    TICK_SECONDS,
    YearSeries,
    tick_path,
    tick_shape,
    year_series,
)
from flint.market.providers._vendor import aggregate, aware_now, period_bounds, session_quote
from flint.market.providers.types import (
    Bar,
    HistoryRangeTooLarge,
    Instrument,
    Interval,
    Quote,
    SymbolNotFound,
    quantize_price,
)
from flint.market.universe import Universe, load_universe

MAX_INTRADAY_DAYS = {Interval.M1: 31, Interval.M5: 62, Interval.M15: 62, Interval.H1: 731}
_FIRST_DAY = date(FIRST_YEAR, 1, 1)
_LAST_DAY = date(LAST_YEAR, 12, 31)


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """A split (``value`` = ratio) or a cash dividend (``value`` = amount per share)."""

    ex_date: date
    kind: Literal["split", "dividend"]
    value: Decimal


@dataclass(frozen=True, slots=True)
class _Day:
    """One session of one instrument: log prices for the tick path, rounded prices for output."""

    session: Session
    log_ohlc: tuple[float, float, float, float]
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    previous_close: Decimal
    volume: int


@lru_cache(maxsize=4096)
def _pricing(inst: Instrument, universe: Universe) -> Pricing:
    return pricing_for(inst, universe)


def _day(pricing: Pricing, series: YearSeries, i: int) -> _Day:
    level, kind = pricing.log_level + pricing.shift(series.days[i]), pricing.kind
    logs = tuple(level + float(a[i]) for a in (series.open, series.high, series.low, series.close))
    o, h, lo, c = (quantize_price(math.exp(x), kind) for x in logs)
    found = session(series.days[i], pricing.model.calendar)
    assert found is not None
    return _Day(
        session=found,
        log_ohlc=(logs[0], logs[1], logs[2], logs[3]),
        open=o,
        high=h,
        low=lo,
        close=c,
        previous_close=quantize_price(math.exp(level + float(series.prev_close[i])), kind),
        volume=max(1, round(pricing.base_volume * float(series.volume_factor[i]))),
    )


def _days(pricing: Pricing, series: YearSeries, lo: int, hi: int) -> list[_Day]:
    """`_day` for the sessions ``lo`` to ``hi`` (excluded) of one year, the same values made
    with the arrays read once (a decade of hundreds of symbols is millions of prices)."""
    kind, calendar, base = pricing.kind, pricing.model.calendar, pricing.log_level
    columns = zip(
        series.days[lo:hi],
        series.open[lo:hi].tolist(),
        series.high[lo:hi].tolist(),
        series.low[lo:hi].tolist(),
        series.close[lo:hi].tolist(),
        series.prev_close[lo:hi].tolist(),
        series.volume_factor[lo:hi].tolist(),
        strict=True,
    )
    out: list[_Day] = []
    for day, *logs, before, factor in columns:
        level = base + pricing.shift(day)
        o, h, lo_, c = (level + x for x in logs)
        found = session(day, calendar)
        assert found is not None
        out.append(
            _Day(
                session=found,
                log_ohlc=(o, h, lo_, c),
                open=quantize_price(math.exp(o), kind),
                high=quantize_price(math.exp(h), kind),
                low=quantize_price(math.exp(lo_), kind),
                close=quantize_price(math.exp(c), kind),
                previous_close=quantize_price(math.exp(level + before), kind),
                volume=max(1, round(pricing.base_volume * factor)),
            )
        )
    return out


def _day_on(pricing: Pricing, day: date) -> _Day:
    series = year_series(pricing.model, day.year)
    return _day(pricing, series, series.index(day))


def _within(value: Decimal, day: _Day) -> Decimal:
    return min(max(value, day.low), day.high)


def _completed_days(pricing: Pricing, start: date, end: date, now: datetime) -> list[_Day]:
    """Sessions in ``[start, end]`` that closed by ``now``."""
    calendar = pricing.model.calendar
    first, last = max(start, _FIRST_DAY), min(end, _LAST_DAY, local_date(now, calendar))
    days: list[_Day] = []
    for year in range(first.year, last.year + 1):
        series = year_series(pricing.model, year)
        lo = bisect.bisect_left(series.days, first)
        hi = bisect.bisect_right(series.days, last)
        days.extend(_days(pricing, series, lo, hi))
    while days and days[-1].session.close > now:
        days.pop()
    return days


def _daily_bar(day: _Day) -> Bar:
    return Bar(day.session.open, day.open, day.high, day.low, day.close, day.close, day.volume)


def _intraday_bars(
    pricing: Pricing, start: date, end: date, interval: Interval, now: datetime
) -> list[Bar]:
    calendar, kind = pricing.model.calendar, pricing.kind
    first, last = max(start, _FIRST_DAY), min(end, _LAST_DAY, local_date(now, calendar))
    if first > last:
        return []
    span = (last - first).days + 1
    if span > MAX_INTRADAY_DAYS[interval]:
        raise HistoryRangeTooLarge(interval, span, MAX_INTRADAY_DAYS[interval])
    per_bar = interval.seconds // TICK_SECONDS
    bars: list[Bar] = []
    for trading_day in trading_days(first, last, calendar):
        day = _day_on(pricing, trading_day)
        steps = day.session.seconds // TICK_SECONDS
        shape = tick_shape(pricing.model.key, calendar, trading_day, steps)
        prices = np.exp(tick_path(shape, *day.log_ohlc))
        starts = np.arange(0, steps, per_bar)
        ends = np.minimum(starts + per_bar, steps)
        highs = np.maximum(np.maximum.reduceat(prices[:steps], starts), prices[ends])
        lows = np.minimum(np.minimum.reduceat(prices[:steps], starts), prices[ends])
        traded = np.floor(day.volume * shape.volume_share).astype(np.int64)
        for k, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            if day.session.open + timedelta(seconds=e * TICK_SECONDS) > now:
                return bars
            o = day.open if s == 0 else _within(quantize_price(float(prices[s]), kind), day)
            c = day.close if e == steps else _within(quantize_price(float(prices[e]), kind), day)
            h = max(_within(quantize_price(float(highs[k]), kind), day), o, c)
            lo = min(_within(quantize_price(float(lows[k]), kind), day), o, c)
            ts = day.session.open + timedelta(seconds=s * TICK_SECONDS)
            bars.append(Bar(ts, o, h, lo, c, c, int(traded[e] - traded[s])))
    return bars


class SimulatedMarket:
    """Offline provider over the packaged instrument universe; see the module docstring."""

    name = "simulated"
    history_fetches = 1
    """Its history is CPU in this process: several at once only contend for the interpreter
    (an import's 200 symbols took 0.25 s more four at a time)."""

    def __init__(self, universe: Universe | None = None) -> None:
        self._universe = universe if universe is not None else load_universe()

    def instrument(self, symbol: str) -> Instrument | None:
        """Reference data for ``symbol`` (case-insensitive), or None if it is unknown."""
        return self._universe.get(symbol)

    async def search(self, query: str, limit: int = 10) -> list[Instrument]:
        """Ranked offline search; see :meth:`flint.market.universe.Universe.search`."""
        return self._universe.search(query, limit)

    async def quote(self, symbol: str, now: datetime | None = None) -> Quote:
        """The price at ``now`` (default: the current time); in session it moves every 5 s."""
        inst, pricing = self._resolve(symbol)
        at = aware_now(now)
        calendar, kind = pricing.model.calendar, pricing.kind
        current = latest_session(at, calendar)
        day = _day_on(pricing, current.day)
        if at >= current.close:
            so_far, stamp = _daily_bar(day), current.close
        else:
            steps = current.seconds // TICK_SECONDS
            tick = int((at - current.open).total_seconds()) // TICK_SECONDS
            shape = tick_shape(pricing.model.key, calendar, current.day, steps)
            seen = np.exp(tick_path(shape, *day.log_ohlc)[: tick + 1])
            price = day.open if tick == 0 else _within(quantize_price(float(seen[-1]), kind), day)
            high = max(_within(quantize_price(float(seen.max()), kind), day), day.open, price)
            low = min(_within(quantize_price(float(seen.min()), kind), day), day.open, price)
            volume = math.floor(day.volume * float(shape.volume_share[tick]))
            so_far = Bar(current.open, day.open, high, low, price, price, volume)
            stamp = current.open + timedelta(seconds=tick * TICK_SECONDS)
        return session_quote(
            inst.symbol,
            so_far,
            day.previous_close,
            currency=inst.currency,
            timestamp=stamp,
            provider=self.name,
        )

    async def history(
        self,
        symbol: str,
        start: date,
        end: date,
        interval: Interval | str = Interval.D1,
        *,
        now: datetime | None = None,
    ) -> list[Bar]:
        """Completed bars for ``[start, end]`` (inclusive dates), oldest first.

        ``now`` (default: the current time) hides bars that have not finished yet. The work
        runs in a worker thread so long ranges do not stall the event loop.
        """
        _, pricing = self._resolve(symbol)
        step = Interval(interval)
        at = aware_now(now)
        if start > end:
            return []
        return await asyncio.to_thread(_history, pricing, start, end, step, at)

    def actions(self, symbol: str, start: date, end: date) -> list[CorporateAction]:
        """The splits and dividends of ``symbol`` with ex-dates in ``[start, end]``, in order.

        A dividend's amount is per share as traded on its ex-date; a split's value is its
        ratio (4 for four-for-one).
        """
        inst, _ = self._resolve(symbol)
        found = [
            CorporateAction(s.ex_date, "split", s.ratio)
            for s in splits(inst.symbol)
            if start <= s.ex_date <= end
        ]
        found += [
            CorporateAction(d.ex_date, "dividend", d.amount)
            for d in dividends(inst.symbol, min(end.year, LAST_YEAR))
            if start <= d.ex_date <= end
        ]
        return sorted(found, key=lambda action: (action.ex_date, action.kind))

    def _resolve(self, symbol: str) -> tuple[Instrument, Pricing]:
        inst = self._universe.get(symbol)
        if inst is None:
            raise SymbolNotFound(symbol)
        return inst, _pricing(inst, self._universe)


def _history(
    pricing: Pricing, start: date, end: date, interval: Interval, now: datetime
) -> list[Bar]:
    if interval.is_intraday:
        return _intraday_bars(pricing, start, end, interval, now)
    if interval is Interval.D1:
        return _daily_bars(pricing, start, end, now)
    first, last = period_bounds(start, end, interval)
    days = _completed_days(pricing, first, last, now)
    bars = _adjusted(pricing, days, now)
    return aggregate(
        [(day.session.day, bar) for day, bar in zip(days, bars, strict=True)], interval
    )


def _dividend_factor(pricing: Pricing, dividend: Dividend) -> float:
    """Yahoo's dividend adjustment: 1 - amount / the close before the ex-date."""
    before = _day_on(pricing, dividend.ex_date).previous_close
    return max(0.0, 1.0 - float(dividend.amount) / float(before))


def _adjustments(pricing: Pricing, first: date, now: datetime) -> tuple[list[date], list[float]]:
    """The ex-dates after ``first`` up to ``now`` and, per bar position among them, the factor
    its ``adj_close`` is its close times (`suffix[bisect_right(ex_dates, day)]`)."""
    today = now.date()
    events = [(s.ex_date, 1.0 / float(s.ratio)) for s in splits(pricing.symbol)]
    events += [
        (d.ex_date, _dividend_factor(pricing, d))
        for d in dividends(pricing.symbol, min(today.year, LAST_YEAR))
        if first < d.ex_date
    ]
    events = sorted(event for event in events if first < event[0] <= today)
    suffix = [1.0] * (len(events) + 1)
    for k in range(len(events) - 1, -1, -1):
        suffix[k] = suffix[k + 1] * events[k][1]
    return [event[0] for event in events], suffix


def _daily_bars(pricing: Pricing, start: date, end: date, now: datetime) -> list[Bar]:
    """`_adjusted(pricing, _completed_days(...))`, the same bars made a year of arrays at a
    time (a decade of 500 symbols is 1.27 million bars): no `_Day` per session, each price
    through `math.exp` and `quantize_price` exactly as there."""
    calendar, kind, model = pricing.model.calendar, pricing.kind, pricing.model
    first, last = max(start, _FIRST_DAY), min(end, _LAST_DAY, local_date(now, calendar))
    spans: list[tuple[YearSeries, int, int]] = []
    for year in range(first.year, last.year + 1):
        series = year_series(model, year)
        lo, hi = bisect.bisect_left(series.days, first), bisect.bisect_right(series.days, last)
        if lo < hi:
            spans.append((series, lo, hi))
    while spans:  # drop the sessions still open at ``now``
        series, lo, hi = spans[-1]
        while hi > lo and session_close(series.days[hi - 1], calendar) > now:
            hi -= 1
        if hi > lo:
            spans[-1] = (series, lo, hi)
            break
        spans.pop()
    if not spans:
        return []
    ex_dates, suffix = _adjustments(pricing, spans[0][0].days[spans[0][1]], now)
    split_days = np.asarray(pricing.split_ordinals, dtype=np.int64)
    split_logs = np.asarray(pricing.split_logs, dtype=np.float64)
    exp, price, base = math.exp, quantize_price, pricing.log_level
    bars: list[Bar] = []
    for series, lo, hi in spans:
        days = series.days[lo:hi]
        if len(split_days):
            level = base + split_logs[np.searchsorted(split_days, series.ordinals[lo:hi], "right")]
        else:
            level = np.full(hi - lo, base + 0.0)
        opens = session_opens(days[0], days[-1], calendar)
        o, h, lo_, c = (
            [price(exp(x), kind) for x in (level + column[lo:hi]).tolist()]
            for column in (series.open, series.high, series.low, series.close)
        )
        volumes = (
            max(1, round(pricing.base_volume * factor))
            for factor in series.volume_factor[lo:hi].tolist()
        )
        for k, (day, volume) in enumerate(zip(days, volumes, strict=True)):
            close = c[k]
            factor = suffix[bisect.bisect_right(ex_dates, day)] if ex_dates else 1.0
            adj = close if factor == 1.0 else price(float(close) * factor, kind)
            bars.append(Bar(opens[k], o[k], h[k], lo_[k], close, adj, volume))
    return bars


def _adjusted(pricing: Pricing, days: list[_Day], now: datetime) -> list[Bar]:
    """Daily bars whose ``adj_close`` allows for the splits and dividends up to ``now``."""
    if not days:
        return []
    ex_dates, suffix = _adjustments(pricing, days[0].session.day, now)
    if not ex_dates:
        return [_daily_bar(day) for day in days]
    bars = []
    for day in days:
        factor = suffix[bisect.bisect_right(ex_dates, day.session.day)]
        adj = (
            day.close if factor == 1.0 else quantize_price(float(day.close) * factor, pricing.kind)
        )
        bars.append(Bar(day.session.open, day.open, day.high, day.low, day.close, adj, day.volume))
    return bars
