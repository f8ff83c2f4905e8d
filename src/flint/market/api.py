"""The public face of `flint.market`: what other features may import (the modules behind it
are private to the feature, and `make lint` holds them to that)."""

from flint.market.deps import MarketDep
from flint.market.feed import QuoteFeed, QuoteListener, SymbolSource
from flint.market.providers.types import Bar, Instrument, InstrumentType, Interval, Quote
from flint.market.service import MarketData, ProvidersFailed, QuoteView, closed_days
from flint.market.storage import DailyCloses, load_daily_closes, write_tokens
from flint.market.universe import Universe, calendar_for, load_universe

__all__ = [
    "Bar",
    "DailyCloses",
    "Instrument",
    "InstrumentType",
    "Interval",
    "MarketData",
    "MarketDep",
    "ProvidersFailed",
    "Quote",
    "QuoteFeed",
    "QuoteListener",
    "QuoteView",
    "SymbolSource",
    "Universe",
    "calendar_for",
    "closed_days",
    "load_daily_closes",
    "load_universe",
    "write_tokens",
]
