"""Market data: the provider chain with failover, the shared cache and the stored last quote.

A quote is served from the cache (`quote_ttl_seconds`); on a miss one caller asks the providers
in order while concurrent callers for the same symbol wait for its answer (cashews' lock works
in-process and through Redis alike). A good answer is cached and stored; when every provider
fails, the last stored quote is served with `stale: true`, and without one the caller gets 503
naming each provider's failure. Garbage never gets this far: adapters raise on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar, cast

import structlog
from cashews import Cache
from sqlalchemy.ext.asyncio import AsyncSession

from flint import metrics
from flint.errors import NotFound, ServiceUnavailable, ValidationFailed, field_error
from flint.kit.calendar import session_close, session_opens, trading_days
from flint.kit.time import utcnow
from flint.market import storage
from flint.market.providers.errors import ProviderError
from flint.market.providers.types import (
    Bar,
    HistoryRangeTooLarge,
    Instrument,
    Interval,
    MarketDataProvider,
    Quote,
    SymbolNotFound,
)
from flint.market.universe import Universe, calendar_for

log = structlog.get_logger(__name__)

T = TypeVar("T")

MAX_HISTORY_YEARS = 30
QUOTE_KEY = "flint:quote:{symbol}"
"""The cache key of a symbol's quote, shared by every process (a cashews key template)."""


def quote_key(symbol: str) -> str:
    return QUOTE_KEY.format(symbol=symbol)


@dataclass(frozen=True, slots=True)
class QuoteView:
    quote: Quote
    name: str
    stale: bool


@dataclass(frozen=True, slots=True)
class HistoryView:
    symbol: str
    interval: Interval
    currency: str
    bars: list[Bar]


_DECIMAL_FIELDS = ("price", "change", "change_percent", "open", "high", "low", "previous_close")


def quote_to_json(quote: Quote) -> dict[str, Any]:
    data = dataclasses.asdict(quote)
    for name in _DECIMAL_FIELDS:
        data[name] = str(data[name])
    data["timestamp"] = quote.timestamp.isoformat()
    return data


def view_of(cached: dict[str, Any], name: str) -> QuoteView:
    """The quote that ``cached`` (`MarketData.cached_quote_json`'s answer) holds."""
    return QuoteView(quote_from_json(cached), name, stale=False)


def quote_from_json(data: dict[str, Any]) -> Quote:
    values = dict(data)
    for name in _DECIMAL_FIELDS:
        values[name] = Decimal(values[name])
    values["timestamp"] = datetime.fromisoformat(values["timestamp"])
    return Quote(**values)


class ProvidersFailed(ServiceUnavailable):
    """Every provider failed and nothing stored can stand in."""


async def _each(
    keys: Sequence[str], call: Callable[[str], Awaitable[T]], *, at_once: int
) -> dict[str, T | BaseException]:
    """``call(key)`` for every key, at most ``at_once`` running at a time; each answer by its
    key, a failure as its exception: every key is asked even when one fails."""
    gate = asyncio.Semaphore(at_once)

    async def one(key: str) -> T:
        async with gate:
            return await call(key)

    answers = await asyncio.gather(*map(one, keys), return_exceptions=True)
    return dict(zip(keys, answers, strict=True))


def _fetched_series(
    symbols: list[str],
    outcome: Mapping[str, list[storage.BarSeries] | BaseException],
    *,
    skip_failed: bool,
) -> list[storage.BarSeries]:
    """`MarketData.missing_history`'s answer from what each symbol's fetch came to (a symbol
    absent from ``outcome`` lacked nothing), in the callers' order: the first failure is the
    one raised, unless ``skip_failed`` leaves out the symbols no provider answered for."""
    series: list[storage.BarSeries] = []
    for symbol in symbols:
        answer = outcome.get(symbol, [])
        if isinstance(answer, ProvidersFailed | NotFound) and skip_failed:
            log.info("backfill_skipped", symbol=symbol, detail=answer.detail)
            continue
        if isinstance(answer, BaseException):
            raise answer
        series.extend(answer if answer else [storage.BarSeries(symbol, Interval.D1, [], "")])
    return series


async def _daily_history(
    provider: MarketDataProvider, *, symbol: str, start: date, end: date
) -> list[Bar]:
    return await provider.history(symbol, start, end, Interval.D1)


class MarketData:
    def __init__(
        self,
        providers: Sequence[MarketDataProvider],
        *,
        universe: Universe,
        cache: Cache,
        quote_ttl: float,
    ) -> None:
        if not providers:
            raise ValueError("at least one market data provider is needed")
        self.providers = list(providers)
        self.universe = universe
        self.cache = cache
        self.quote_ttl = quote_ttl
        self.history_fetches = max(provider.history_fetches for provider in self.providers)
        self._cached_quote = cache(ttl=quote_ttl, key=QUOTE_KEY, lock=True)(self._fetch_quote)

    async def aclose(self) -> None:
        for provider in self.providers:
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()

    def instrument(self, symbol: str) -> Instrument | None:
        return self.universe.get(symbol)

    def name_of(self, symbol: str) -> str:
        """The instrument's name (the symbol itself when the universe does not know it)."""
        known = self.universe.get(symbol)
        return known.name if known else symbol

    # --- quotes -------------------------------------------------------------------------------
    async def quote(self, session: AsyncSession, symbol: str) -> QuoteView:
        """Writes go into the caller's transaction (one per request or task): on SQLite a
        second session would wait for the lock the caller's transaction holds."""
        try:
            cached: dict[str, Any] = await self._cached_quote(session=session, symbol=symbol)
        except ProvidersFailed:
            last = await storage.last_quote(session, symbol)
            if last is None:
                raise
            log.warning("quote_stale", symbol=symbol, provider=last.provider)
            return QuoteView(last, self.name_of(symbol), stale=True)
        return view_of(cached, self.name_of(symbol))

    async def cached_quote_json(self, symbol: str) -> dict[str, Any] | None:
        """What the cache holds for ``symbol``'s quote (`quote_to_json`'s form), if anything
        (no provider, no lock): `view_of` reads it."""
        return cast("dict[str, Any] | None", await self.cache.get(quote_key(symbol)))

    async def latest(self, symbol: str) -> QuoteView:
        """The current quote for pricing (an order fill, a valuation): the cached one, else
        fresh from the providers and cached, without touching the database. NotFound for an
        unknown symbol, ProvidersFailed when no provider answers."""
        cached = await self.cached_quote_json(symbol)
        if cached is not None:
            return view_of(cached, self.name_of(symbol))
        quote = await self._ask_quote(symbol)
        await self.cache.set(quote_key(symbol), quote_to_json(quote), self.quote_ttl)
        return QuoteView(quote, self.name_of(symbol), stale=False)

    async def _ask_quote(self, symbol: str) -> Quote:
        return await self._first(symbol, lambda provider: provider.quote(symbol))

    async def _fetch_quote(self, session: AsyncSession, symbol: str) -> dict[str, Any]:
        quote = await self._ask_quote(symbol)
        await storage.save_quote(session, quote)
        return quote_to_json(quote)

    async def refresh_quotes(self, session: AsyncSession, symbols: Sequence[str]) -> list[Quote]:
        """Fetch fresh quotes (bypassing the cache's age), store and cache them."""
        fresh: list[Quote] = []
        for symbol in symbols:
            try:
                quote = await self._ask_quote(symbol)
            except (NotFound, ProvidersFailed) as exc:
                log.info("quote_refresh_failed", symbol=symbol, detail=exc.detail)
                continue
            fresh.append(quote)
            await self.cache.set(quote_key(symbol), quote_to_json(quote), self.quote_ttl)
        for quote in fresh:
            await storage.save_quote(session, quote)
        return fresh

    # --- history ------------------------------------------------------------------------------
    async def history(
        self, session: AsyncSession, symbol: str, start: date, end: date, interval: Interval
    ) -> HistoryView:
        """Daily bars of known instruments come from storage, and only the sessions it lacks
        are fetched (closed daily bars never change). Other intervals go to the providers and
        are stored on the way back."""
        validate_range(start, end)
        known = self.universe.get(symbol)
        currency = known.currency if known else "USD"
        if known is not None:  # one name, one stored history: BRK.B is the universe's BRK-B
            symbol = known.symbol
        if interval is not Interval.D1 or known is None:
            bars = await self._fetch_and_store(session, symbol, start, end, interval)
            return HistoryView(symbol, interval, currency, bars)

        expected = closed_sessions(calendar_for(known.type), start, end, utcnow())
        if not expected:
            return HistoryView(symbol, interval, currency, [])
        missing = await storage.missing_ranges(session, symbol, interval, expected)
        for first, last in missing:
            await self._fetch_and_store(session, symbol, first, last, interval)
        after_last = expected[-1] + timedelta(seconds=1)  # load_bars' end is exclusive
        bars = await storage.load_bars(session, symbol, interval, expected[0], after_last)
        return HistoryView(symbol, interval, currency, bars)

    async def backfill(
        self, session: AsyncSession, symbols: Sequence[str], start: date, end: date
    ) -> dict[str, int]:
        """Store the closed daily bars of ``symbols`` between ``start`` and ``end`` that storage
        lacks, all in one bulk write; returns the bars written per symbol. Unknown symbols
        raise NotFound before anything is fetched."""
        return await self.backfill_windows(session, dict.fromkeys(symbols, (start, end)))

    async def backfill_windows(
        self,
        session: AsyncSession,
        windows: Mapping[str, tuple[date, date]],
        *,
        skip_failed: bool = False,
    ) -> dict[str, int]:
        """`backfill`, each symbol over its own window (inclusive dates). With ``skip_failed``
        a symbol no provider answers for is left out (and absent from the result)."""
        for start, end in windows.values():
            validate_range(start, end)
        return await self._backfill(session, windows, skip_failed=skip_failed)

    async def _backfill(
        self,
        session: AsyncSession,
        windows: Mapping[str, tuple[date, date]],
        *,
        skip_failed: bool = False,
    ) -> dict[str, int]:
        """Backfill each symbol over its own window, in one bulk write. With ``skip_failed``
        a symbol no provider answers for is left out (and absent from the result)."""
        series = await self.missing_history(session, windows, skip_failed=skip_failed)
        await storage.upsert_bars_many(session, series)
        written: dict[str, int] = {}
        for item in series:
            written[item.symbol] = written.get(item.symbol, 0) + len(item.bars)
        return written

    async def store_history(
        self, session: AsyncSession, series: Sequence[storage.BarSeries]
    ) -> None:
        """Store what `missing_history` fetched, in one bulk write in ``session``."""
        await storage.upsert_bars_many(session, series)

    async def missing_history(
        self,
        session: AsyncSession,
        windows: Mapping[str, tuple[date, date]],
        *,
        skip_failed: bool = False,
    ) -> list[storage.BarSeries]:
        """The closed daily bars of each symbol's window (inclusive dates) that storage lacks,
        fetched and not stored (`storage.upsert_bars_many` stores them): reading only, so a
        caller can fetch in a read-only session and write in a short transaction. A symbol
        lacking nothing has one empty series; with ``skip_failed`` a symbol no provider
        answers for (each failed, or has no such symbol) has none. Symbols unknown to the
        universe raise NotFound before anything is fetched; the others are fetched as many at
        a time as the chain's most willing provider takes (`history_fetches`)."""
        instruments = {symbol: self.universe.get(symbol) for symbol in windows}
        unknown = [symbol for symbol, known in instruments.items() if known is None]
        if unknown:
            raise NotFound(f"Unknown symbols: {', '.join(unknown)}.")
        now = utcnow()
        expected: dict[str, list[datetime]] = {}
        for symbol, known in instruments.items():
            assert known is not None
            start, end = windows[symbol]
            validate_range(start, end)
            expected[symbol] = closed_sessions(calendar_for(known.type), start, end, now)
        missing = await storage.missing_ranges_many(session, Interval.D1, expected)

        async def fetch(symbol: str) -> list[storage.BarSeries]:
            fetched: list[storage.BarSeries] = []
            for first, last in missing[symbol]:
                bars, provider = await self._first_with_name(
                    symbol, partial(_daily_history, symbol=symbol, start=first, end=last)
                )
                fetched.append(storage.BarSeries(symbol, Interval.D1, bars, provider))
            return fetched

        lacking = [symbol for symbol in instruments if missing[symbol]]
        outcome = await _each(lacking, fetch, at_once=self.history_fetches)
        return _fetched_series(list(instruments), outcome, skip_failed=skip_failed)

    async def without_history(
        self, session: AsyncSession, wanted: Mapping[str, date]
    ) -> dict[str, date]:
        """Of ``wanted`` (a listed symbol and a day), those with no daily close on or before
        their day: bought before the symbol has data. Stored history answers first; otherwise
        the fortnight before the day is fetched (and stored). A symbol no provider can answer
        for now is given the benefit of the doubt."""
        first = await storage.first_bar_times(session, list(wanted), Interval.D1)
        unsure = {
            symbol: day
            for symbol, day in wanted.items()
            if symbol not in first or first[symbol].date() > day
        }
        if not unsure:
            return {}
        answered = await self._backfill(
            session,
            {symbol: (day - timedelta(days=14), day) for symbol, day in unsure.items()},
            skip_failed=True,
        )
        stored = await storage.first_bar_times(session, list(answered), Interval.D1)
        return {
            symbol: day
            for symbol, day in unsure.items()
            if symbol in answered and (symbol not in stored or stored[symbol].date() > day)
        }

    async def daily_bars(self, symbol: str, start: date, end: date) -> list[Bar]:
        """The closed daily bars of ``symbol`` in ``[start, end]`` straight from the providers,
        neither read from storage nor stored: for a caller outside Flint's database (the
        sandbox institution prices its accounts' history with them). NotFound for an unknown
        symbol, ProvidersFailed when no provider answers."""
        validate_range(start, end)
        return await self._first(
            symbol, partial(_daily_history, symbol=symbol, start=start, end=end)
        )

    async def _fetch_and_store(
        self, session: AsyncSession, symbol: str, start: date, end: date, interval: Interval
    ) -> list[Bar]:
        bars, provider = await self._first_with_name(
            symbol, lambda p: p.history(symbol, start, end, interval)
        )
        if bars:
            await storage.upsert_bars(session, symbol, interval, bars, provider=provider)
        return bars

    # --- search -------------------------------------------------------------------------------
    async def search(self, query: str, limit: int) -> list[Instrument]:
        """The packaged universe answers first; providers fill in what it does not know."""
        found = self.universe.search(query, limit)
        if len(found) >= limit:
            return found
        seen = {item.symbol for item in found}
        for provider in self.providers:
            if provider.name == "simulated":
                continue
            try:
                more = await provider.search(query, limit)
            except ProviderError as exc:
                log.info("search_provider_failed", provider=provider.name, reason=exc.reason)
                continue
            for item in more:
                if item.symbol not in seen and len(found) < limit:
                    found.append(item)
                    seen.add(item.symbol)
            break
        return found

    # --- failover -----------------------------------------------------------------------------
    async def _first(self, symbol: str, call: Callable[[MarketDataProvider], Awaitable[T]]) -> T:
        value, _ = await self._first_with_name(symbol, call)
        return value

    async def _first_with_name(
        self, symbol: str, call: Callable[[MarketDataProvider], Awaitable[T]]
    ) -> tuple[T, str]:
        failures: list[str] = []
        unknown: list[str] = []
        too_large: HistoryRangeTooLarge | None = None
        for provider in self.providers:
            try:
                value = await call(provider)
            except SymbolNotFound:
                metrics.MARKET_PROVIDER_CALLS.labels(provider.name, "not_found").inc()
                unknown.append(provider.name)
            except HistoryRangeTooLarge as exc:
                too_large = too_large or exc
            except ProviderError as exc:
                metrics.MARKET_PROVIDER_CALLS.labels(provider.name, "error").inc()
                log.warning("provider_failed", provider=provider.name, reason=exc.reason)
                failures.append(f"{provider.name}: {exc.reason}")
            else:
                metrics.MARKET_PROVIDER_CALLS.labels(provider.name, "ok").inc()
                return value, provider.name
        if too_large is not None and not failures:
            raise ValidationFailed(
                str(too_large).capitalize() + ".",
                errors=[field_error("query.start", str(too_large))],
            )
        if failures:
            raise ProvidersFailed(
                "No market data provider could answer: " + "; ".join(failures) + "."
            )
        raise NotFound(f"Unknown symbol {symbol}.")


def validate_range(start: date, end: date) -> None:
    if start > end:
        raise ValidationFailed(
            "`start` is after `end`.", errors=[field_error("query.start", "must not be after end")]
        )
    if (end - start).days > MAX_HISTORY_YEARS * 366:
        raise ValidationFailed(
            f"Ranges are limited to {MAX_HISTORY_YEARS} years.",
            errors=[field_error("query.start", f"at most {MAX_HISTORY_YEARS} years before end")],
        )


def closed_days(calendar: str, start: date, end: date, now: datetime) -> list[date]:
    """The trading days in [start, end] whose session has closed by ``now`` (sessions close in
    day order, so only the last days are checked)."""
    days = trading_days(start, end, calendar)
    closed = len(days)
    while closed and session_close(days[closed - 1], calendar) > now:
        closed -= 1
    return days[:closed]


def closed_sessions(calendar: str, start: date, end: date, now: datetime) -> list[datetime]:
    """Opening instants of the sessions in [start, end] that have closed by ``now``: the
    timestamps of the daily bars that exist and will not change."""
    days = closed_days(calendar, start, end, now)
    return list(session_opens(days[0], days[-1], calendar)) if days else []


REFRESH_BATCH = 50


def batches(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
