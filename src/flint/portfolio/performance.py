"""A portfolio's performance: valuation (`valuation`) plus metrics (`metrics`), in the base
currency, cached per ledger version.

Prices are daily closes from the market data service (stored history first, only missing
sessions fetched). A symbol quoted in another currency is converted with the daily close of
its FX pair (``EURUSD=X``, or the inverse pair); pence (``GBp``) are pounds / 100. Purchase
prices and cash amounts are converted at the rate of their own day. A custom asset
(``MY:HOUSE``) is priced by its owner: each NYSE session from its first given price takes the
last price given on or before it, in the asset's own currency. ``totalReturn`` is the
gain (final value less net external flows) over the money put in (the positive flows).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import anyio
import numpy as np
from cashews import Cache
from sqlalchemy.ext.asyncio import AsyncSession

from flint.assets.service import closes as custom_closes
from flint.errors import ValidationFailed
from flint.kit.calendar import XNYS, trading_days
from flint.kit.time import utcnow
from flint.market import storage
from flint.market.providers.types import Interval
from flint.market.service import MarketData
from flint.portfolio import metrics, service
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.portfolio.schemas import Performance
from flint.portfolio.symbols import SymbolBook
from flint.portfolio.symbols import book as symbol_book
from flint.portfolio.valuation import Entry, value

CACHE_SECONDS = 600


@dataclass(frozen=True)
class Window:
    start: date | None
    end: date
    benchmark: str
    risk_free: float


def _pair(market: MarketData, currency: str, base: str) -> tuple[str, bool] | None:
    direct = f"{currency}{base}=X"
    if market.instrument(direct) is not None:
        return direct, False
    inverse = f"{base}{currency}=X"
    if market.instrument(inverse) is not None:
        return inverse, True
    return None


async def _closes(
    session: AsyncSession, market: MarketData, symbols: Sequence[str], start: date, end: date
) -> dict[str, dict[date, float]]:
    known = [s for s in symbols if market.instrument(s) is not None]
    if known:
        await market.backfill(session, known, start, end)
    out: dict[str, dict[date, float]] = {}
    first = datetime.combine(start, time(), tzinfo=utcnow().tzinfo)
    last = datetime.combine(end + timedelta(days=1), time(), tzinfo=utcnow().tzinfo)
    for symbol in known:
        bars = await storage.load_bars(session, symbol, Interval.D1, first, last)
        out[symbol] = {bar.timestamp.date(): float(bar.close) for bar in bars}
    return out


def _on_trading_days(
    given: Mapping[str, Mapping[date, float]], end: date
) -> dict[str, dict[date, float]]:
    """A custom asset's prices as daily closes on the NYSE calendar: each session from the first
    given price to ``end`` takes the last price given on or before it (carried forward)."""
    out: dict[str, dict[date, float]] = {}
    for symbol, series in given.items():
        if not series:
            out[symbol] = {}
            continue
        days = sorted(series)
        closes = [series[d] for d in days]
        out[symbol] = {
            day: closes[bisect.bisect_right(days, day) - 1]
            for day in trading_days(days[0], end, XNYS)
        }
    return out


class _Rates:
    """One FX pair's daily closes, sorted once: a day's rate is the last close on or before
    it (the first close for days before any); 1 without closes."""

    def __init__(self, series: Mapping[date, float], inverse: bool) -> None:
        self.days = sorted(series)
        self.closes = [series[day] for day in self.days]
        self.inverse = inverse

    def on(self, day: date) -> float:
        if not self.days:
            return 1.0
        rate = self.closes[max(bisect.bisect_right(self.days, day) - 1, 0)]
        return 1.0 / rate if self.inverse else rate


@dataclass(frozen=True)
class Inputs:
    """What the figures are computed from: the ledger and the closes in the base currency
    (purchase prices and cash amounts converted at the rate of their own day)."""

    entries: list[Entry]
    priced: dict[str, dict[date, float]]
    benchmark: dict[date, float]
    symbols: list[str]
    book: SymbolBook


async def inputs(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    ledger: Sequence[PortfolioTransaction],
    window: Window,
) -> Inputs:
    base = portfolio.base_currency
    if market.instrument(window.benchmark) is None:
        raise ValidationFailed.at("query.benchmark", f"Unknown benchmark {window.benchmark}.")
    if window.start is not None and window.start > window.end:
        raise ValidationFailed.at("query.start", "start must not be after end.")
    first = min((e.date for e in ledger), default=window.end)
    symbols = sorted({e.symbol for e in ledger if e.symbol})
    book = await symbol_book(session, market, portfolio.user_id, symbols)
    quote = {s: book.currency(s) for s in symbols}
    pairs = {
        currency: _pair(market, currency, base)
        for currency, _ in quote.values()
        if currency != base
    }
    listed = [s for s in symbols if s not in book.custom]
    wanted = [*listed, window.benchmark, *(p[0] for p in pairs.values() if p)]
    closes = await _closes(session, market, wanted, first, window.end)
    closes.update(
        _on_trading_days(await custom_closes(session, book.custom.values(), window.end), window.end)
    )
    rates = {
        currency: _Rates(closes.get(pair[0], {}), pair[1])
        for currency, pair in pairs.items()
        if pair is not None
    }

    def convert(symbol: str, series: Mapping[date, float]) -> dict[date, float]:
        currency, factor = quote[symbol]
        fx = rates.get(currency)
        if fx is None:
            return {d: v * factor for d, v in series.items()}
        return {d: v * factor * fx.on(d) for d, v in series.items()}

    priced = {s: convert(s, closes.get(s, {})) for s in symbols}

    def to_base(entry: PortfolioTransaction, amount: Decimal | None) -> Decimal | None:
        if amount is None or entry.symbol is None:
            return amount
        currency, factor = quote[entry.symbol]
        fx = rates.get(currency)
        if fx is None and factor == 1.0:
            return amount
        rate = fx.on(entry.date) if fx is not None else 1.0
        return amount * Decimal(str(factor * rate))

    entries = [
        Entry(
            e.date,
            e.type,
            e.symbol,
            e.quantity,
            to_base(e, e.price),
            to_base(e, e.fee) or Decimal(0),
            to_base(e, e.amount) if e.type == "dividend" else e.amount,
        )
        for e in ledger
    ]
    return Inputs(entries, priced, closes.get(window.benchmark, {}), symbols, book)


async def compute(
    session: AsyncSession,
    market: MarketData,
    portfolio: Portfolio,
    ledger: Sequence[PortfolioTransaction],
    window: Window,
) -> dict[str, Any]:
    got = await inputs(session, market, portfolio, ledger, window)
    return await anyio.to_thread.run_sync(
        _figures,
        got.entries,
        got.priced,
        got.benchmark,
        window,
        portfolio.base_currency,
        got.book,
        got.symbols,
    )


async def cached(
    session: AsyncSession,
    market: MarketData,
    cache: Cache | None,
    portfolio: Portfolio,
    window: Window,
) -> Performance:
    """`compute` through the cache (per ledger version and day), for the API and the reports
    alike; without a cache (a worker), computed each time."""
    key = (
        f"flint:performance:{portfolio.id}:{portfolio.version}:{window.start}:{window.end}:"
        f"{window.benchmark}:{window.risk_free}:{utcnow().date()}"
    )
    if cache is not None:
        hit = await cache.get(key)
        if hit is not None:
            return Performance.model_validate(hit)
    ledger = await service.ledger(session, portfolio)
    result = Performance.model_validate(await compute(session, market, portfolio, ledger, window))
    if cache is not None:
        await cache.set(key, result.model_dump(mode="json", by_alias=True), expire=CACHE_SECONDS)
    return result


def _figures(
    entries: list[Entry],
    priced: dict[str, dict[date, float]],
    benchmark: dict[date, float],
    window: Window,
    base: str,
    book: SymbolBook,
    symbols: list[str],
) -> dict[str, Any]:
    valued = value(entries, priced, window.end)
    empty = not valued.dates
    start_index = 0
    if window.start is not None and not empty:
        start_index = int(
            np.searchsorted(
                np.array(valued.dates, dtype="datetime64[D]"),
                np.datetime64(window.start),
                side="left",
            )
        )
    values = valued.values[start_index:]
    flows = valued.flows[start_index:].copy()
    dates = valued.dates[start_index:]
    if start_index > 0 and len(values):  # open the window on the day before's value
        values = valued.values[start_index - 1 :]
        flows = np.concatenate([[0.0], valued.flows[start_index:]])
        dates = valued.dates[start_index - 1 :]
    bench_days = np.array(sorted(benchmark), dtype="datetime64[D]")
    bench_values = np.array([benchmark[d] for d in sorted(benchmark)], dtype=np.float64)
    if len(dates) and len(bench_days):
        at = np.searchsorted(bench_days, np.array(dates, dtype="datetime64[D]"), side="right") - 1
        aligned = bench_values[np.clip(at, 0, None)]
    else:
        aligned = np.full(len(dates), np.nan)
    figures = (
        metrics.compute(
            values, flows, dates, aligned if not np.isnan(aligned).any() else None, window.risk_free
        )
        if len(dates) >= 1
        else None
    )
    returns = metrics.daily_returns(values, flows) if len(dates) else np.zeros(0)
    offset = len(dates) - len(returns)
    cumulative = np.cumprod(1 + returns) - 1 if len(returns) else returns
    series = [
        {
            "date": day,
            "value": float(values[i]),
            "netFlow": float(flows[i]),
            "dailyReturn": float(returns[i - offset]) if i >= offset else None,
            "cumulativeReturn": float(cumulative[i - offset]) if i >= offset else 0.0,
            "benchmarkValue": None if np.isnan(aligned[i]) else float(aligned[i]),
        }
        for i, day in enumerate(dates)
    ]
    market_value = float(values[-1]) if len(values) else 0.0
    cost_basis = float(sum(p.cost for p in valued.positions.values()))
    column = {symbol: i for i, symbol in enumerate(valued.symbols)}
    rows: list[dict[str, Any]] = []
    for symbol, position in sorted(valued.positions.items()):  # held, so valued on some day
        i = column[symbol]
        price = float(valued.prices[-1, i])
        worth = float(valued.quantities[-1, i] * valued.prices[-1, i])
        cost = float(position.cost)
        rows.append(
            {
                "symbol": symbol,
                "quantity": position.quantity,
                "avgCost": cost / float(position.quantity) if position.quantity else None,
                "price": price,
                "value": worth,
                "pnl": worth - cost,
                "pnlPercent": (worth - cost) / cost if cost else None,
                "weight": worth / market_value if market_value else None,
            }
        )
    cash = float(valued.cash[-1]) if len(valued.dates) else 0.0
    allocation = [
        {
            "symbol": row["symbol"],
            "assetClass": book.asset_class(str(row["symbol"])),
            "weight": row["weight"],
            "value": row["value"],
        }
        for row in rows
    ]
    if cash:
        allocation.append(
            {
                "symbol": base,
                "assetClass": "cash",
                "weight": cash / market_value if market_value else None,
                "value": cash,
            }
        )
    put_in = float(flows[flows > 0].sum()) if len(flows) else 0.0
    gain = market_value - float(flows.sum()) if len(flows) else 0.0
    if start_index > 0 and len(values):
        gain = market_value - float(values[0]) - float(flows[1:].sum())
        put_in = float(values[0]) + float(flows[1:][flows[1:] > 0].sum())
    m = figures
    return {
        "asOf": window.end,
        "baseCurrency": base,
        "marketValue": market_value,
        "costBasis": cost_basis,
        "unrealizedPnl": float(sum(r["pnl"] for r in rows)),
        "realizedPnl": float(valued.realized),
        "dividends": float(valued.dividends),
        "totalReturn": gain / put_in if put_in else None,
        "twr": m.twr if m else None,
        "mwr": m.mwr if m else None,
        "annualizedReturn": m.annualized_return if m else None,
        "volatility": m.volatility if m else None,
        "sharpe": m.sharpe if m else None,
        "sortino": m.sortino if m else None,
        "maxDrawdown": m.max_drawdown if m else None,
        "maxDrawdownStart": m.max_drawdown_start if m else None,
        "maxDrawdownEnd": m.max_drawdown_end if m else None,
        "beta": m.beta if m else None,
        "alpha": m.alpha if m else None,
        "benchmark": window.benchmark,
        "benchmarkReturn": m.benchmark_return if m else None,
        "allocation": allocation,
        "holdings": rows,
        "series": series,
    }
