"""``yahoo``: market data from Yahoo Finance's unofficial v8 chart and v1 search endpoints.

Symbols are Yahoo's own (AAPL, BRK-B, BTC-USD, EURUSD=X, ^GSPC, OCDO.L). Prices are in the
currency Yahoo names, which for London listings is pence (``GBp``).

Conventions, matching the simulated provider:

* Yahoo sends prices as JSON numbers that are float32 values printed as float64
  (``129.0399932861328``). They are read as Decimal from the JSON text, and a value that is
  exactly a float32 is replaced by the shortest decimal that float32 stands for (``129.04``);
  any other value is kept as written. Nothing passes through rounding to a fixed precision.
* A daily bar is stamped with its session's opening instant in UTC: the exchange calendar for
  New York listings, the regular-session start Yahoo reports for other exchanges, and 00:00
  UTC for crypto and FX. Intraday bars keep Yahoo's start times. 1wk and 1mo bars are built
  from daily bars (Monday-Sunday weeks, calendar months, returned whole).
* ``history`` returns completed bars only; ``now`` (default: the current time) decides. Bars
  with a null price (Yahoo has them) are skipped; NaN or non-positive prices are garbage.
* ``adj_close`` is Yahoo's split- and dividend-adjusted close for daily bars, ``close`` for
  intraday ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from urllib.parse import quote as quote_path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import numpy as np
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.kit.calendar import NEW_YORK, XNYS, session
from flint.kit.http import VendorClient, VendorPolicy
from flint.market.providers._vendor import (
    aggregate,
    aware_now,
    check_bar,
    check_quote,
    parse_volume,
    period_bounds,
    session_quote,
)
from flint.market.providers.errors import ProviderError, ProviderGarbage
from flint.market.providers.types import (
    Bar,
    HistoryRangeTooLarge,
    Instrument,
    InstrumentType,
    Interval,
    Quote,
    SymbolNotFound,
)

DEFAULT_BASE_URL = "https://query1.finance.yahoo.com"
DEFAULT_POLICY = VendorPolicy(rate_limits="60/minute;1500/hour")
"""Yahoo publishes no limits; this stays well under the rates known to trigger its 429s."""
USER_AGENT = "Mozilla/5.0 (compatible; Flint market data)"

MAX_INTRADAY_DAYS = {Interval.M1: 7, Interval.M5: 60, Interval.M15: 60, Interval.H1: 730}
_INTERVALS = {
    Interval.M1: "1m",
    Interval.M5: "5m",
    Interval.M15: "15m",
    Interval.H1: "60m",
    Interval.D1: "1d",
}
_KINDS = {
    "EQUITY": InstrumentType.EQUITY,
    "ETF": InstrumentType.ETF,
    "CRYPTOCURRENCY": InstrumentType.CRYPTO,
    "CURRENCY": InstrumentType.FX,
    "INDEX": InstrumentType.INDEX,
    "MUTUALFUND": InstrumentType.FUND,
}
_US_EXCHANGES = frozenset({"NMS", "NGM", "NCM", "NYQ", "ASE", "PCX", "BTS", "PNK", "NAS", "NYS"})
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _loads(text: str) -> Any:
    """JSON with every non-integer number as a Decimal of its text (NaN too, for the checks)."""
    return json.loads(text, parse_float=Decimal, parse_constant=Decimal)


def _unfloat32(value: Decimal) -> Decimal:
    """The decimal a float32 printed as float64 stands for; other values are returned as is."""
    if not value.is_finite():
        return value
    wide = float(value)
    if abs(wide) > _FLOAT32_MAX:
        return value
    narrow = np.float32(wide)
    if float(narrow) != wide:
        return value
    return Decimal(np.format_float_positional(narrow, unique=True, trim="-"))


def _search_currency(symbol: str, kind: InstrumentType, exchange: str) -> str:
    """Search results do not carry a currency; infer the obvious cases, else leave it empty."""
    if kind is InstrumentType.FX and symbol.endswith("=X") and len(symbol) == 8:
        return symbol[3:6]
    if kind is InstrumentType.CRYPTO and "-" in symbol:
        return symbol.rpartition("-")[2]
    return "USD" if exchange in _US_EXCHANGES else ""


class YahooProvider:
    """Yahoo Finance adapter; see the module docstring for symbols and conventions."""

    name = "yahoo"

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        policy: VendorPolicy = DEFAULT_POLICY,
        storage: Storage | None = None,
        breakers: AsyncCircuitBreakerFactory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = VendorClient(
            self.name,
            base_url,
            policy,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            storage=storage,
            breakers=breakers,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def instrument(self, symbol: str) -> Instrument | None:
        """Yahoo has no cheap reference lookup by symbol; callers use the universe."""
        return None

    async def search(self, query: str, limit: int = 10) -> list[Instrument]:
        """``/v1/finance/search``; options, futures and other kinds Flint does not model are
        left out."""
        if limit <= 0 or not query.strip():
            return []
        params = {"q": query.strip(), "quotesCount": str(limit), "newsCount": "0"}
        body = self._json(await self._http.get("/v1/finance/search", params))
        quotes = body.get("quotes")
        if not isinstance(quotes, list):
            raise ProviderGarbage(self.name, "the search answer has no quotes list")
        found: list[Instrument] = []
        for item in quotes:
            if not isinstance(item, dict):
                raise ProviderGarbage(self.name, "a search result is not an object")
            symbol = item.get("symbol")
            kind = _KINDS.get(str(item.get("quoteType", "")))
            if not isinstance(symbol, str) or not symbol:
                raise ProviderGarbage(self.name, "a search result has no symbol")
            if kind is None:
                continue
            name = item.get("longname") or item.get("shortname") or symbol
            exchange = str(item.get("exchange") or "")
            sector = item.get("sector")
            found.append(
                Instrument(
                    symbol=symbol,
                    name=str(name),
                    type=kind,
                    exchange=exchange,
                    currency=_search_currency(symbol, kind, exchange),
                    sector=sector if isinstance(sector, str) and sector else None,
                )
            )
        return found[:limit]

    async def quote(self, symbol: str, now: datetime | None = None) -> Quote:
        """The regular-market price from the chart metadata, with today's open from the day's
        bar. ``now`` is accepted for the Protocol; a live vendor cannot answer for the past."""
        sym = symbol.strip().upper()
        params = {"range": "1d", "interval": "1d", "includePrePost": "false"}
        result = await self._chart(sym, params)
        meta = self._meta(result)
        what = f"the quote for {sym}"
        rows = self._rows(result, what)
        if not rows:
            raise ProviderGarbage(self.name, f"{what} has no session data")
        _, today = rows[-1]

        def field(name: str) -> Decimal | None:
            return self._price(meta.get(name), f"{what} ({name})")

        price = field("regularMarketPrice")
        previous = _either(field("previousClose"), field("chartPreviousClose"))
        high = _either(field("regularMarketDayHigh"), today.high)
        low = _either(field("regularMarketDayLow"), today.low)
        stamp = meta.get("regularMarketTime")
        if price is None or previous is None or high is None or low is None:
            raise ProviderGarbage(self.name, f"{what} is missing prices")
        if not isinstance(stamp, int):
            raise ProviderGarbage(self.name, f"{what} has no time")
        volume = meta.get("regularMarketVolume")
        traded = today.volume if volume is None else self._volume(volume, what)
        so_far = Bar(today.timestamp, today.open, high, low, price, price, traded)
        return check_quote(
            session_quote(
                str(meta.get("symbol") or sym),
                so_far,
                previous,
                currency=self._currency(meta),
                timestamp=datetime.fromtimestamp(stamp, UTC),
                provider=self.name,
            )
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
        result = await self._chart(sym, params)
        meta = self._meta(result)
        zone = self._zone(meta)
        rows = self._rows(result, f"the {sym} bar")
        if step.is_intraday:
            length = timedelta(seconds=step.seconds)
            return [
                bar
                for stamp, bar in rows
                if start <= stamp.astimezone(zone).date() <= end and stamp + length <= at
            ]
        sessions = self._sessions(meta, zone)
        days: list[tuple[date, Bar]] = []
        for stamp, bar in rows:
            day = stamp.astimezone(zone).date()
            opens, closes = sessions(day)
            if first <= day <= last and closes <= at:
                days.append((day, replace(bar, timestamp=opens)))
        if step is Interval.D1:
            return [bar for _, bar in days]
        return aggregate(days, step)

    async def _chart(self, symbol: str, params: dict[str, str]) -> dict[str, Any]:
        """The single ``chart.result`` entry; Yahoo's ``chart.error`` becomes an exception."""
        response = await self._http.get(f"/v8/finance/chart/{quote_path(symbol, safe='')}", params)
        body = self._json(response)
        chart = body.get("chart")
        if not isinstance(chart, dict):
            raise ProviderGarbage(self.name, "the answer has no 'chart'")
        error = chart.get("error")
        if error:
            code = error.get("code") if isinstance(error, dict) else None
            if code == "Not Found":
                raise SymbolNotFound(symbol)
            raise ProviderError(self.name, f"the request was refused ({str(code)[:40]})")
        if response.status_code != httpx.codes.OK:
            raise ProviderError(self.name, f"unexpected answer (HTTP {response.status_code})")
        results = chart.get("result")
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise ProviderGarbage(self.name, "the chart has no result")
        result: dict[str, Any] = results[0]
        return result

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = _loads(response.text)
        except ValueError:
            if response.status_code != httpx.codes.OK:
                raise ProviderError(
                    self.name, f"unexpected answer (HTTP {response.status_code})"
                ) from None
            raise ProviderGarbage(self.name, "the answer is not valid JSON") from None
        if not isinstance(body, dict):
            raise ProviderGarbage(self.name, "the answer is not a JSON object")
        return body

    def _meta(self, result: dict[str, Any]) -> dict[str, Any]:
        meta = result.get("meta")
        if not isinstance(meta, dict):
            raise ProviderGarbage(self.name, "the chart has no metadata")
        return meta

    def _currency(self, meta: dict[str, Any]) -> str:
        currency = meta.get("currency")
        if not isinstance(currency, str) or not currency:
            raise ProviderGarbage(self.name, "the chart names no currency")
        return currency

    def _zone(self, meta: dict[str, Any]) -> tzinfo:
        name = meta.get("exchangeTimezoneName")
        if not isinstance(name, str):
            raise ProviderGarbage(self.name, "the chart names no exchange time zone")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ProviderGarbage(self.name, f"unknown time zone {name[:40]!r}") from None

    def _price(self, value: object, what: str) -> Decimal | None:
        """None for Yahoo's nulls; a Decimal (maybe NaN, for the checks) for numbers."""
        if value is None:
            return None
        if isinstance(value, Decimal):
            return _unfloat32(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        raise ProviderGarbage(self.name, f"{what} is not a number")

    def _rows(self, result: dict[str, Any], what: str) -> list[tuple[datetime, Bar]]:
        """Checked bars stamped as Yahoo stamps them; bars with a null price are skipped."""
        indicators = result.get("indicators")
        quotes = indicators.get("quote") if isinstance(indicators, dict) else None
        if not isinstance(quotes, list) or not quotes or not isinstance(quotes[0], dict):
            raise ProviderGarbage(self.name, "the chart has no price arrays")
        columns: dict[str, Any] = quotes[0]
        stamps = result.get("timestamp")
        if stamps is None and not any(columns.values()):
            return []  # an empty window (a weekend, a holiday)
        if not isinstance(stamps, list):
            raise ProviderGarbage(self.name, "the chart has no timestamps")
        adjclose = indicators.get("adjclose") if isinstance(indicators, dict) else None
        adjusted = adjclose[0] if isinstance(adjclose, list) and adjclose else {}
        if not isinstance(adjusted, dict):
            raise ProviderGarbage(self.name, "the chart's adjusted closes are malformed")
        opens, highs, lows, closes, volumes = (
            self._column(columns, name, len(stamps))
            for name in ("open", "high", "low", "close", "volume")
        )
        adjusted_closes = self._column(adjusted, "adjclose", len(stamps)) if adjusted else closes
        rows: list[tuple[datetime, Bar]] = []
        for i, stamp in enumerate(stamps):
            if not isinstance(stamp, int):
                raise ProviderGarbage(self.name, "the chart has a bad timestamp")
            when = datetime.fromtimestamp(stamp, UTC)
            label = f"{what} at {when:%Y-%m-%d %H:%M} UTC"
            o, h, lo, c = (self._price(column[i], label) for column in (opens, highs, lows, closes))
            if o is None or h is None or lo is None or c is None:
                continue
            adj = self._price(adjusted_closes[i], label)
            volume = self._volume(volumes[i] or 0, label)
            bar = Bar(when, o, h, lo, c, c if adj is None else adj, volume)
            rows.append((when, check_bar(self.name, bar, label)))
        return rows

    def _column(self, columns: dict[str, Any], name: str, length: int) -> list[Any]:
        column = columns.get(name)
        if not isinstance(column, list):
            raise ProviderGarbage(self.name, f"the chart has no {name} values")
        if len(column) != length:
            raise ProviderGarbage(self.name, f"the chart's {name} values do not match its times")
        return column

    def _volume(self, value: object, what: str) -> int:
        amount = self._price(value, what)
        if amount is None:
            raise ProviderGarbage(self.name, f"{what} has no volume")
        return parse_volume(self.name, amount, what)

    def _sessions(
        self, meta: dict[str, Any], zone: tzinfo
    ) -> Callable[[date], tuple[datetime, datetime]]:
        """(open, close) in UTC of a daily bar's session, by the rules in the module docstring."""
        kind = _KINDS.get(str(meta.get("instrumentType", "")))
        if kind in (InstrumentType.CRYPTO, InstrumentType.FX):

            def whole_day(day: date) -> tuple[datetime, datetime]:
                opens = datetime.combine(day, time(), UTC)
                return opens, opens + timedelta(days=1)

            return whole_day
        regular = (meta.get("currentTradingPeriod") or {}).get("regular") or {}
        start, end = regular.get("start"), regular.get("end")
        if isinstance(start, int) and isinstance(end, int):
            open_at = datetime.fromtimestamp(start, UTC).astimezone(zone).time()
            close_at = datetime.fromtimestamp(end, UTC).astimezone(zone).time()
        else:
            open_at, close_at = time(), time(23, 59, 59)

        def local(day: date) -> tuple[datetime, datetime]:
            found = session(day, XNYS) if zone == NEW_YORK else None
            if found is not None:
                return found.open, found.close
            return (
                datetime.combine(day, open_at, zone).astimezone(UTC),
                datetime.combine(day, close_at, zone).astimezone(UTC),
            )

        return local


def _unix(day: date) -> str:
    """Midnight UTC at the start of ``day``, as Yahoo's ``period1``/``period2`` want it."""
    return str(int(datetime.combine(day, time(), UTC).timestamp()))


def _either(value: Decimal | None, fallback: Decimal | None) -> Decimal | None:
    return value if value is not None else fallback
