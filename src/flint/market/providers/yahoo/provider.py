"""`YahooProvider`: the `MarketDataProvider` flow over Yahoo (the chart window each request
asks for, which bars are complete, weeks and months built from days); the calls are ``client``,
the JSON ``mapping``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import httpx
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.kit.http import VendorPolicy
from flint.market.providers._vendor import aggregate, aware_now, period_bounds
from flint.market.providers.types import Bar, HistoryRangeTooLarge, Instrument, Interval, Quote
from flint.market.providers.yahoo import mapping
from flint.market.providers.yahoo.client import (
    DEFAULT_BASE_URL,
    DEFAULT_COOKIE_URL,
    DEFAULT_POLICY,
    NAME,
    YahooClient,
)

MAX_INTRADAY_DAYS = {Interval.M1: 7, Interval.M5: 60, Interval.M15: 60, Interval.H1: 730}
_INTERVALS = {
    Interval.M1: "1m",
    Interval.M5: "5m",
    Interval.M15: "15m",
    Interval.H1: "60m",
    Interval.D1: "1d",
}


HISTORY_FETCHES = 4
"""Symbols whose history is asked for at once. One after another, an import naming 40 symbols
waited for 40 round trips before its checks could answer; a bound, so that one import does not
send Yahoo, which throttles bursts with 429, dozens of requests in the same moment."""


class YahooProvider:
    """Yahoo Finance adapter; see the package docstring for symbols and conventions."""

    name = NAME
    history_fetches = HISTORY_FETCHES

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        cookie_url: str = DEFAULT_COOKIE_URL,
        policy: VendorPolicy = DEFAULT_POLICY,
        storage: Storage | None = None,
        breakers: AsyncCircuitBreakerFactory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = YahooClient(
            base_url=base_url,
            cookie_url=cookie_url,
            policy=policy,
            storage=storage,
            breakers=breakers,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def instrument(self, symbol: str) -> Instrument | None:
        """Yahoo has no cheap reference lookup by symbol; callers use the universe."""
        return None

    async def search(self, query: str, limit: int = 10) -> list[Instrument]:
        """``/v1/finance/search``; options, futures and other kinds Flint does not model are
        left out."""
        if limit <= 0 or not query.strip():
            return []
        params = {"q": query.strip(), "quotesCount": str(limit), "newsCount": "0"}
        return mapping.search_results(await self._client.search(params))[:limit]

    async def quote(self, symbol: str, now: datetime | None = None) -> Quote:
        """The regular-market price from the chart metadata, with today's open from the day's
        bar. ``now`` is accepted for the Protocol; a live vendor cannot answer for the past."""
        sym = symbol.strip().upper()
        params = {"range": "1d", "interval": "1d", "includePrePost": "false"}
        return mapping.chart_quote(sym, await self._client.chart(sym, params))

    async def history(
        self,
        symbol: str,
        start: date,
        end: date,
        interval: Interval | str = Interval.D1,
        *,
        now: datetime | None = None,
    ) -> list[Bar]:
        """Completed bars for ``[start, end]`` (inclusive dates, in the exchange's time zone),
        oldest first."""
        sym = symbol.strip().upper()
        step = Interval(interval)
        at = aware_now(now)
        if start > end:
            return []
        if step.is_intraday:
            span = (end - start).days + 1
            if span > MAX_INTRADAY_DAYS[step]:
                raise HistoryRangeTooLarge(step, span, MAX_INTRADAY_DAYS[step])
        first, last = period_bounds(start, end, step)
        # A day either side: the window is in UTC, the dates are the exchange's.
        params = {
            "period1": _unix(first - timedelta(days=1)),
            "period2": _unix(last + timedelta(days=2)),
            "interval": _INTERVALS.get(step, "1d"),
            "includePrePost": "false",
            "events": "div|split",
        }
        result = await self._client.chart(sym, params)
        meta = mapping.chart_meta(result)
        zone = mapping.exchange_zone(meta)
        rows = mapping.chart_rows(result, f"the {sym} bar")
        if step.is_intraday:
            length = timedelta(seconds=step.seconds)
            return [
                bar
                for stamp, bar in rows
                if start <= stamp.astimezone(zone).date() <= end and stamp + length <= at
            ]
        sessions = mapping.sessions(meta, zone)
        days: list[tuple[date, Bar]] = []
        for stamp, bar in rows:
            day = stamp.astimezone(zone).date()
            opens, closes = sessions(day)
            if first <= day <= last and closes <= at:
                days.append((day, replace(bar, timestamp=opens)))
        if step is Interval.D1:
            return [bar for _, bar in days]
        return aggregate(days, step)


def _unix(day: date) -> str:
    """Midnight UTC at the start of ``day``, as Yahoo's ``period1``/``period2`` want it."""
    return str(int(datetime.combine(day, time(), UTC).timestamp()))
