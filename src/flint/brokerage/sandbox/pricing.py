"""The sandbox's prices: Flint's `MarketData` (``latest`` for now, ``daily_bars`` for the past),
with the market's failures said as the institution's, and which instrument kinds trade here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row

from flint.brokerage.sandbox.data import Fill, PlannedBuy
from flint.brokerage.types import OrderAction, OrderRejected
from flint.errors import NotFound
from flint.kit.calendar import Session, local_date
from flint.kit.vendor_errors import ProviderUnavailable
from flint.market.api import InstrumentType, MarketData, ProvidersFailed, QuoteView, calendar_for

TRADABLE = frozenset(
    {InstrumentType.EQUITY, InstrumentType.ETF, InstrumentType.FUND, InstrumentType.CRYPTO}
)
_STEPS = {
    InstrumentType.CRYPTO: Decimal("0.00000001"),
    InstrumentType.ETF: Decimal("0.001"),
    InstrumentType.FUND: Decimal("0.001"),
}
_LOOK_BACK = timedelta(days=14)  # a planned day may fall on a weekend or a holiday


async def quote(provider: str, market: MarketData, symbol: str) -> QuoteView:
    try:
        return await market.latest(symbol)
    except NotFound:
        raise OrderRejected(provider, f"unknown symbol {symbol}") from None
    except ProvidersFailed as exc:
        raise ProviderUnavailable(provider, f"no market price for {symbol} now") from exc


async def prices_now(
    provider: str, market: MarketData, working: Iterable[Row[Any]]
) -> dict[str, Decimal]:
    """The price now of each symbol an open market buy of ``working`` is for (what it holds
    back: `matching.held_back`); a symbol without one is left out."""
    symbols = sorted(
        {
            order.symbol
            for order in working
            if order.action == OrderAction.BUY.value
            and order.limit_price is None
            and order.stop_price is None
        }
    )
    views = await asyncio.gather(
        *(quote(provider, market, symbol) for symbol in symbols), return_exceptions=True
    )
    return {
        symbol: view.quote.price
        for symbol, view in zip(symbols, views, strict=True)
        if not isinstance(view, BaseException)
    }


def check_kind(provider: str, market: MarketData, symbol: str) -> None:
    known = market.instrument(symbol)
    if known is not None and known.type not in TRADABLE:
        raise OrderRejected(provider, f"{symbol} ({known.type.value}) is not tradable")


async def opening_price(
    provider: str, market: MarketData, symbol: str, opens: Session
) -> Decimal | None:
    """The opening price of the session ``opens`` (which has opened): the current quote's
    while the quote is of that session, the day's bar once it has closed; None while the quote
    does not know the session yet."""
    view = await quote(provider, market, symbol)
    stamp = view.quote.timestamp
    if opens.open <= stamp <= opens.close:
        return view.quote.open
    if stamp < opens.open:
        return None
    try:
        bars = await market.daily_bars(symbol, opens.day, opens.day)
    except ProvidersFailed as exc:
        raise ProviderUnavailable(provider, f"no opening price for {symbol}") from exc
    return bars[0].open if bars else None


def calendar_of(market: MarketData, symbol: str) -> str:
    """The trading calendar ``symbol`` keeps (the NYSE's for a symbol the universe lacks)."""
    known = market.instrument(symbol)
    return calendar_for(known.type if known else InstrumentType.EQUITY)


async def _fill(provider: str, market: MarketData, planned: PlannedBuy) -> Fill | None:
    known = market.instrument(planned.symbol)
    if known is None:
        return None
    try:
        bars = await market.daily_bars(planned.symbol, planned.day - _LOOK_BACK, planned.day)
    except NotFound:
        return None
    except ProvidersFailed as exc:
        raise ProviderUnavailable(provider, f"no price history for {planned.symbol}") from exc
    if not bars:
        return None
    last = bars[-1]
    day = local_date(last.timestamp, calendar_for(known.type))
    return Fill(day, last.close, _STEPS.get(known.type, Decimal(1)))


async def historical_fills(
    provider: str, market: MarketData, plan: list[PlannedBuy]
) -> dict[str, Fill]:
    """Each planned buy at the close of the last session on or before its day, from the
    market's own history (a symbol the market has no history for is left out)."""
    fills = await asyncio.gather(*(_fill(provider, market, planned) for planned in plan))
    return {p.symbol: f for p, f in zip(plan, fills, strict=True) if f is not None}
