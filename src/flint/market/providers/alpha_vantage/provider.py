"""`AlphaVantageProvider`: the `MarketDataProvider` flow over Alpha Vantage (which function
answers what, the ranges each request covers, which bars are complete); the calls are
``client``, symbols and JSON ``mapping``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.kit import vendor_status
from flint.kit.http import VendorPolicy
from flint.market.providers._vendor import (
    aggregate,
    aware_now,
    check_quote,
    period_bounds,
    session_quote,
)
from flint.market.providers.alpha_vantage import mapping
from flint.market.providers.alpha_vantage.client import (
    DEFAULT_BASE_URL,
    NAME,
    PREMIUM,
    RATE_LIMITS,
    AlphaVantageClient,
    Plan,
)
from flint.market.providers.alpha_vantage.mapping import Symbol
from flint.market.providers.errors import ProviderError, ProviderGarbage
from flint.market.providers.types import (
    Bar,
    HistoryRangeTooLarge,
    Instrument,
    InstrumentType,
    Interval,
    Quote,
)

MAX_INTRADAY_DAYS = {Interval.M1: 31, Interval.M5: 62, Interval.M15: 62, Interval.H1: 92}
_INTRADAY = {Interval.M1: "1min", Interval.M5: "5min", Interval.M15: "15min", Interval.H1: "60min"}
_COMPACT_DAYS = 130
"""``outputsize=compact`` holds the latest 100 sessions; ranges starting later than this many
days ago fit in it."""
COMPACT_SIZE = 100
"""Daily bars in a compact answer; a compact answer this long may have left older ones out."""


def _months(start: date, end: date) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = year + month // 12, month % 12 + 1
    return months


class AlphaVantageProvider:
    """Alpha Vantage adapter; see the package docstring for symbols and conventions."""

    name = NAME
    history_fetches = 1
    """The free key's budget allows one request a second (`RATE_LIMITS`)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        plan: Plan = "free",
        policy: VendorPolicy | None = None,
        storage: Storage | None = None,
        breakers: AsyncCircuitBreakerFactory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``plan`` is what the key is paid for: ``free`` asks only what a free key gets
        (TIME_SERIES_DAILY, compact output), ``premium`` the adjusted series and full output.
        ``policy`` defaults to the plan's rate limits."""
        if plan not in RATE_LIMITS:
            raise ValueError(f"unknown Alpha Vantage plan {plan!r}")
        self._plan = plan
        policy = policy or VendorPolicy(rate_limits=RATE_LIMITS[plan])
        self._client = AlphaVantageClient(
            api_key,
            base_url=base_url,
            policy=policy,
            storage=storage,
            breakers=breakers,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, params: dict[str, str], symbol: str | None) -> dict[str, Any]:
        """One call; a premium notice on a premium plan means the key is not a premium one."""
        try:
            return await self._client.call(params, symbol)
        except ProviderError as exc:
            if exc.reason == PREMIUM and self._plan == "premium":
                raise vendor_status.report(
                    self.name,
                    "FLINT_ALPHA_VANTAGE_PLAN is premium but the key is refused premium data",
                ) from exc
            raise

    def instrument(self, symbol: str) -> Instrument | None:
        """Alpha Vantage has no reference-data lookup by symbol; callers use the universe."""
        return None

    async def search(self, query: str, limit: int = 10) -> list[Instrument]:
        """SYMBOL_SEARCH, best match first; kinds other than equity/ETF/fund are left out."""
        if limit <= 0 or not query.strip():
            return []
        body = await self._call({"function": "SYMBOL_SEARCH", "keywords": query.strip()}, None)
        return mapping.search_results(body)[:limit]

    async def quote(self, symbol: str, now: datetime | None = None) -> Quote:
        """GLOBAL_QUOTE for equities; the latest two daily bars for crypto and FX. The stamp
        is the session close once it has passed, else ``now``."""
        sym = Symbol.parse(symbol)
        at = aware_now(now)
        if sym.kind is not InstrumentType.EQUITY:
            return await self._quote_from_daily(sym, at)
        params = {"function": "GLOBAL_QUOTE", "symbol": sym.symbol}
        return mapping.global_quote(await self._call(params, sym.symbol), sym, at)

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
        sym = Symbol.parse(symbol)
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

    async def _quote_from_daily(self, sym: Symbol, at: datetime) -> Quote:
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
        self, sym: Symbol, since: date, until: date, now: datetime
    ) -> list[tuple[date, Bar, datetime]]:
        """The vendor's daily bars dated ``since``-``until`` as (date, bar, session close),
        oldest first. Bars outside the range are neither checked nor returned."""
        premium = self._plan == "premium"
        recent = (now.date() - since).days <= _COMPACT_DAYS
        size = "full" if premium and not recent else "compact"
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
            function = "TIME_SERIES_DAILY_ADJUSTED" if premium else "TIME_SERIES_DAILY"
            params = {"function": function, "symbol": sym.symbol, "outputsize": size}
            key = "Time Series (Daily)"
        body = await self._call(params, sym.symbol)
        zone, series = mapping.time_series(body, key)
        if not premium and params.get("outputsize") == "compact" and len(series) >= COMPACT_SIZE:
            oldest = min(mapping.parse_date(text, f"a {sym.symbol} daily bar") for text in series)
            if since < oldest:
                # Only the latest 100 days came; full output is premium (or was not asked for).
                raise ProviderError(
                    self.name, f"history before {oldest} needs a premium Alpha Vantage plan"
                )
        days: list[tuple[date, Bar, datetime]] = []
        for text, row in series.items():
            day = mapping.parse_date(text, f"a {sym.symbol} daily bar")
            if not since <= day <= until:
                continue
            opens, closes = mapping.session_times(day, zone, sym.kind)
            days.append((day, mapping.parse_bar(row, opens, f"the {text} bar", sym), closes))
        days.sort(key=lambda item: item[0])
        return days

    async def _intraday(
        self, sym: Symbol, start: date, end: date, interval: Interval, now: datetime
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
            zone, series = mapping.time_series(body, f"Time Series ({_INTRADAY[interval]})")
            for text, row in series.items():
                try:
                    local = datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
                except ValueError:
                    raise ProviderGarbage(self.name, "an intraday bar has a bad time") from None
                stamp = local.astimezone(UTC)
                if start <= local.date() <= end and stamp + length <= now:
                    bars[stamp] = mapping.parse_bar(row, stamp, f"the {text} bar", sym)
        return [bars[stamp] for stamp in sorted(bars)]
