"""The sandbox's prices: Flint's `MarketData` (``latest``), with the market's failures said as
the institution's, and which instrument kinds trade here."""

from __future__ import annotations

from flint.brokerage.types import OrderRejected
from flint.errors import NotFound
from flint.kit.vendor_errors import ProviderUnavailable
from flint.market.api import InstrumentType, MarketData, ProvidersFailed, QuoteView

TRADABLE = frozenset(
    {InstrumentType.EQUITY, InstrumentType.ETF, InstrumentType.FUND, InstrumentType.CRYPTO}
)


async def quote(provider: str, market: MarketData, symbol: str) -> QuoteView:
    try:
        return await market.latest(symbol)
    except NotFound:
        raise OrderRejected(provider, f"unknown symbol {symbol}") from None
    except ProvidersFailed as exc:
        raise ProviderUnavailable(provider, f"no market price for {symbol} now") from exc


def check_kind(provider: str, market: MarketData, symbol: str) -> None:
    known = market.instrument(symbol)
    if known is not None and known.type not in TRADABLE:
        raise OrderRejected(provider, f"{symbol} ({known.type.value}) is not tradable")
