"""``alpha_vantage``: market data from Alpha Vantage's JSON API (``/query?function=...``).

Symbols: equities and ETFs as Alpha Vantage spells them (AAPL, IBM, TSCO.LON); crypto as
``BASE-FIAT`` (BTC-USD, sent as ``symbol=BTC&market=USD``); FX as ``EURUSD=X`` (sent as
``from_symbol=EUR&to_symbol=USD``).

Alpha Vantage reports errors and throttling with HTTP 200 and a single ``Error Message``,
``Note`` or ``Information`` key; those become exceptions here and are never read as data.

Conventions, matching the simulated provider:

* Prices are ``Decimal`` parsed from the vendor's strings, unrounded.
* A daily bar is stamped with its session's opening instant in UTC: 09:30 in the series' time
  zone for equities (``US/Eastern`` for US listings, so the NYSE open; NYSE days use the
  exchange calendar), 00:00 UTC for crypto and FX. Intraday times are wall-clock times in the
  series' ``Time Zone`` and name the bar's start. 1wk and 1mo bars are built from daily bars
  (Monday-Sunday weeks, calendar months, returned whole).
* ``history`` returns completed bars only; ``now`` (default: the current time) decides.
* Equity daily bars carry the dividend- and split-adjusted close as ``adj_close`` (with
  ``adjusted=False``, the free TIME_SERIES_DAILY is used and ``adj_close == close``). Intraday
  bars are unadjusted, like the daily OHLC.
* Crypto volume is converted from coins to the quote currency (coins x close), as Flint counts
  it everywhere; FX has no volume (0).
* Intraday history is equities only, fetched one calendar month per request, and limited to
  :data:`MAX_INTRADAY_DAYS` per call so that one call cannot spend a day's quota.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.kit.calendar import NEW_YORK, XNYS, session
from flint.kit.http import VendorClient, VendorPolicy
from flint.market.providers._vendor import (
    aggregate,
    aware_now,
    check_bar,
    check_quote,
    parse_decimal,
    parse_volume,
    period_bounds,
    session_quote,
)
from flint.market.providers.errors import ProviderError, ProviderGarbage, ProviderThrottled
from flint.market.providers.types import (
    Bar,
    HistoryRangeTooLarge,
    Instrument,
    InstrumentType,
    Interval,
    Quote,
    SymbolNotFound,
)

DEFAULT_BASE_URL = "https://www.alphavantage.co"
DEFAULT_POLICY = VendorPolicy(rate_limits="5/minute;25/day")
"""The free tier's budget; paid keys should pass their own windows."""

MAX_INTRADAY_DAYS = {Interval.M1: 31, Interval.M5: 62, Interval.M15: 62, Interval.H1: 92}
_INTRADAY = {Interval.M1: "1min", Interval.M5: "5min", Interval.M15: "15min", Interval.H1: "60min"}
_COMPACT_DAYS = 130
"""``outputsize=compact`` holds the latest 100 sessions; ranges starting later than this many
days ago fit in it."""
_FIAT = frozenset(
    {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD", "SEK", "NOK"}
    | {"DKK", "KRW", "INR", "BRL", "MXN", "ZAR", "PLN", "TRY"}
)
_SUFFIX_CURRENCY = {
    "LON": "GBp",
    "TRT": "CAD",
    "TRV": "CAD",
    "DEX": "EUR",
    "FRK": "EUR",
    "BSE": "INR",
    "SHH": "CNY",
    "SHZ": "CNY",
}
"""Alpha Vantage's exchange suffixes; a quote does not say its currency, US listings are USD."""
_SEARCH_TYPES = {
    "equity": InstrumentType.EQUITY,
    "etf": InstrumentType.ETF,
    "mutual fund": InstrumentType.FUND,
}
_ZONES: dict[str, tzinfo] = {"US/Eastern": NEW_YORK, "UTC": UTC}
_OPEN, _CLOSE = time(9, 30), time(16, 0)


@dataclass(frozen=True, slots=True)
class _Symbol:
    """How one Flint symbol is asked for: kind, and base/quote currencies for crypto and FX."""

    symbol: str
    kind: InstrumentType
    base: str = ""
    quote: str = ""

    @classmethod
    def parse(cls, symbol: str) -> _Symbol:
        text = symbol.strip().upper()
        if text.endswith("=X") and len(text) == 8 and text[:6].isalpha():
            return cls(text, InstrumentType.FX, text[:3], text[3:6])
        base, dash, quote = text.partition("-")
        if dash and quote in _FIAT and base.isalnum():
            return cls(text, InstrumentType.CRYPTO, base, quote)
        return cls(text, InstrumentType.EQUITY)

    @property
    def currency(self) -> str:
        if self.kind is not InstrumentType.EQUITY:
            return self.quote
        _, dot, suffix = self.symbol.rpartition(".")
        return _SUFFIX_CURRENCY.get(suffix, "USD") if dot else "USD"


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    """``{"1. open": ...}`` -> ``{"open": ...}`` (also ``"1a. open (USD)"`` -> ``"open (USD)"``)."""
    return {key.split(". ", 1)[-1]: value for key, value in row.items()}


def _months(start: date, end: date) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = year + month // 12, month % 12 + 1
    return months


class AlphaVantageProvider:
    """Alpha Vantage adapter; see the module docstring for symbols and conventions."""

    name = "alpha_vantage"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        policy: VendorPolicy = DEFAULT_POLICY,
        storage: Storage | None = None,
        breakers: AsyncCircuitBreakerFactory | None = None,
        adjusted: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._key = api_key
        self._adjusted = adjusted
        self._http = VendorClient(
            self.name, base_url, policy, storage=storage, breakers=breakers, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def instrument(self, symbol: str) -> Instrument | None:
        """Alpha Vantage has no reference-data lookup by symbol; callers use the universe."""
        return None

    async def search(self, query: str, limit: int = 10) -> list[Instrument]:
        """SYMBOL_SEARCH, best match first; kinds other than equity/ETF/fund are left out."""
        if limit <= 0 or not query.strip():
            return []
        body = await self._call({"function": "SYMBOL_SEARCH", "keywords": query.strip()}, None)
        matches = body.get("bestMatches")
        if not isinstance(matches, list):
            raise ProviderGarbage(self.name, "the search answer has no matches list")
        found: list[Instrument] = []
        for match in matches:
            fields = _fields(match) if isinstance(match, dict) else {}
            symbol, name = fields.get("symbol"), fields.get("name")
            kind = _SEARCH_TYPES.get(str(fields.get("type", "")).lower())
            if not (isinstance(symbol, str) and symbol and isinstance(name, str)):
                raise ProviderGarbage(self.name, "a search match has no symbol or name")
            if kind is None:
                continue
            region, currency = fields.get("region"), fields.get("currency")
            found.append(
                Instrument(
                    symbol=symbol,
                    name=name,
                    type=kind,
                    exchange=region if isinstance(region, str) else "",
                    currency=currency if isinstance(currency, str) else "",
                )
            )
        return found[:limit]

    async def quote(self, symbol: str, now: datetime | None = None) -> Quote:
        """GLOBAL_QUOTE for equities; the latest two daily bars for crypto and FX. The stamp
        is the session close once it has passed, else ``now``."""
        sym = _Symbol.parse(symbol)
        at = aware_now(now)
        if sym.kind is not InstrumentType.EQUITY:
            return await self._quote_from_daily(sym, at)
        body = await self._call({"function": "GLOBAL_QUOTE", "symbol": sym.symbol}, sym.symbol)
        raw = body.get("Global Quote")
        if not isinstance(raw, dict):
            raise ProviderGarbage(self.name, "the quote answer has no 'Global Quote'")
        if not raw:
            raise SymbolNotFound(sym.symbol)
        fields = _fields(raw)
        what = f"the quote for {sym.symbol}"

        def number(field: str) -> Decimal:
            return parse_decimal(self.name, fields.get(field), f"{what} ({field})")

        percent = fields.get("change percent")
        day = self._date(fields.get("latest trading day"), what)
        return check_quote(
            Quote(
                symbol=sym.symbol,
                price=number("price"),
                change=number("change"),
                change_percent=parse_decimal(
                    self.name,
                    percent.removesuffix("%") if isinstance(percent, str) else None,
                    f"{what} (change percent)",
                ),
                open=number("open"),
                high=number("high"),
                low=number("low"),
                previous_close=number("previous close"),
                volume=parse_volume(self.name, number("volume"), what),
                currency=sym.currency,
                timestamp=min(at, self._session(day, NEW_YORK, InstrumentType.EQUITY)[1]),
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
        sym = _Symbol.parse(symbol)
        step = Interval(interval)
        at = aware_now(now)
        if start > end:
            return []
        if step.is_intraday:
            return await self._intraday(sym, start, end, step, at)
        first, last = period_bounds(start, end, step)
        days = [
            (day, bar)
            for day, bar, closes in await self._daily(sym, first, last, at)
            if closes <= at
        ]
        if step is Interval.D1:
            return [bar for _, bar in days]
        return aggregate(days, step)

    async def _quote_from_daily(self, sym: _Symbol, at: datetime) -> Quote:
        today = at.date()
        days = await self._daily(sym, today - timedelta(days=7), today + timedelta(days=1), at)
        if len(days) < 2:
            raise ProviderGarbage(self.name, f"too little history to quote {sym.symbol}")
        (_, previous, _), (_, last, closes) = days[-2], days[-1]
        return check_quote(
            session_quote(
                sym.symbol,
                last,
                previous.close,
                currency=sym.currency,
                timestamp=min(at, closes),
                provider=self.name,
            )
        )

    async def _daily(
        self, sym: _Symbol, since: date, until: date, now: datetime
    ) -> list[tuple[date, Bar, datetime]]:
        """The vendor's daily bars dated ``since``-``until`` as (date, bar, session close),
        oldest first. Bars outside the range are neither checked nor returned."""
        recent = (now.date() - since).days <= _COMPACT_DAYS
        size = "compact" if recent else "full"
        if sym.kind is InstrumentType.CRYPTO:
            params = {"function": "DIGITAL_CURRENCY_DAILY", "symbol": sym.base, "market": sym.quote}
            key = "Time Series (Digital Currency Daily)"
        elif sym.kind is InstrumentType.FX:
            params = {
                "function": "FX_DAILY",
                "from_symbol": sym.base,
                "to_symbol": sym.quote,
                "outputsize": size,
            }
            key = "Time Series FX (Daily)"
        else:
            function = "TIME_SERIES_DAILY_ADJUSTED" if self._adjusted else "TIME_SERIES_DAILY"
            params = {"function": function, "symbol": sym.symbol, "outputsize": size}
            key = "Time Series (Daily)"
        body = await self._call(params, sym.symbol)
        zone, series = self._series(body, key)
        days: list[tuple[date, Bar, datetime]] = []
        for text, row in series.items():
            day = self._date(text, f"a {sym.symbol} daily bar")
            if not since <= day <= until:
                continue
            opens, closes = self._session(day, zone, sym.kind)
            days.append((day, self._bar(row, opens, f"the {text} bar", sym), closes))
        days.sort(key=lambda item: item[0])
        return days

    async def _intraday(
        self, sym: _Symbol, start: date, end: date, interval: Interval, now: datetime
    ) -> list[Bar]:
        if sym.kind is not InstrumentType.EQUITY:
            raise ProviderError(self.name, "intraday history is offered for stocks and ETFs only")
        span = (end - start).days + 1
        if span > MAX_INTRADAY_DAYS[interval]:
            raise HistoryRangeTooLarge(interval, span, MAX_INTRADAY_DAYS[interval])
        length = timedelta(seconds=interval.seconds)
        bars: dict[datetime, Bar] = {}
        for month in _months(start, end):
            params = {
                "function": "TIME_SERIES_INTRADAY",
                "symbol": sym.symbol,
                "interval": _INTRADAY[interval],
                "month": month,
                "outputsize": "full",
                "adjusted": "false",
                "extended_hours": "false",
            }
            body = await self._call(params, sym.symbol)
            zone, series = self._series(body, f"Time Series ({_INTRADAY[interval]})")
            for text, row in series.items():
                try:
                    local = datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
                except ValueError:
                    raise ProviderGarbage(self.name, "an intraday bar has a bad time") from None
                stamp = local.astimezone(UTC)
                if start <= local.date() <= end and stamp + length <= now:
                    bars[stamp] = self._bar(row, stamp, f"the {text} bar", sym)
        return [bars[stamp] for stamp in sorted(bars)]

    def _bar(self, row: object, stamp: datetime, what: str, sym: _Symbol) -> Bar:
        if not isinstance(row, dict):
            raise ProviderGarbage(self.name, f"{what} is not an object")
        fields = _fields(row)

        def number(field: str) -> Decimal:
            value = fields.get(field, fields.get(f"{field} ({sym.quote})"))
            return parse_decimal(self.name, value, f"{what} ({field})")

        close = number("close")
        adjusted = number("adjusted close") if "adjusted close" in fields else close
        if sym.kind is InstrumentType.FX:
            volume = 0
        else:
            traded = number("volume")
            if sym.kind is InstrumentType.CRYPTO:
                traded *= close
            volume = parse_volume(self.name, traded, what)
        bar = Bar(stamp, number("open"), number("high"), number("low"), close, adjusted, volume)
        return check_bar(self.name, bar, what)

    def _series(self, body: dict[str, Any], key: str) -> tuple[tzinfo, dict[str, Any]]:
        """The time series under ``key`` and the zone its times are in (from the metadata)."""
        series, meta = body.get(key), body.get("Meta Data")
        if not isinstance(series, dict) or not isinstance(meta, dict):
            raise ProviderGarbage(self.name, f"the answer has no '{key}'")
        names = [value for name, value in meta.items() if name.endswith("Time Zone")]
        name = names[0] if names and isinstance(names[0], str) else "US/Eastern"
        zone = _ZONES.get(name)
        if zone is None:
            try:
                zone = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ProviderGarbage(self.name, f"unknown time zone {name[:40]!r}") from None
        return zone, series

    def _session(self, day: date, zone: tzinfo, kind: InstrumentType) -> tuple[datetime, datetime]:
        """(open, close) in UTC of the session on ``day``."""
        if kind is not InstrumentType.EQUITY:
            opens = datetime.combine(day, time(0, 0), tzinfo=UTC)
            return opens, opens + timedelta(days=1)
        found = session(day, XNYS) if zone is NEW_YORK else None
        if found is not None:
            return found.open, found.close
        return (
            datetime.combine(day, _OPEN, tzinfo=zone).astimezone(UTC),
            datetime.combine(day, _CLOSE, tzinfo=zone).astimezone(UTC),
        )

    def _date(self, value: object, what: str) -> date:
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ProviderGarbage(self.name, f"{what} has a bad date") from None

    async def _call(self, params: dict[str, str], symbol: str | None) -> dict[str, Any]:
        """One API call, with Alpha Vantage's in-band errors turned into exceptions."""
        response = await self._http.get("/query", {**params, "apikey": self._key})
        if response.status_code != httpx.codes.OK:
            raise ProviderError(self.name, f"unexpected answer (HTTP {response.status_code})")
        try:
            body = json.loads(response.text)
        except ValueError:
            raise ProviderGarbage(self.name, "the answer is not valid JSON") from None
        if not isinstance(body, dict):
            raise ProviderGarbage(self.name, "the answer is not a JSON object")
        error = body.get("Error Message")
        if error is not None:
            if "apikey" in str(error).lower():
                raise ProviderError(self.name, "the API key was rejected")
            if symbol is not None:
                raise SymbolNotFound(symbol)
            raise ProviderError(self.name, "the request was rejected")
        notice = body.get("Note", body.get("Information"))
        if notice is not None:
            raise self._notice(str(notice))
        return body

    def _notice(self, text: str) -> ProviderError:
        """Classify a Note/Information body. The per-second message also names the daily
        limit, so it is checked first."""
        lowered = text.lower()
        if "apikey" in lowered or "api key is invalid" in lowered:
            return ProviderError(self.name, "the API key was rejected")
        if "per second" in lowered:
            return ProviderThrottled(self.name, "too many requests per second", retry_after=1)
        if "per minute" in lowered:
            return ProviderThrottled(self.name, "too many requests per minute", retry_after=60)
        if "per day" in lowered or "daily" in lowered:
            return ProviderThrottled(self.name, "the daily request limit is reached")
        if "premium endpoint" in lowered:
            return ProviderError(self.name, "this data needs a premium Alpha Vantage plan")
        return ProviderThrottled(self.name, "the provider refused the request for now")
