"""What a portfolio's symbols are, for one owner: listed instruments (the market data service's
universe) and the owner's custom assets (``MY:HOUSE``). Another user's custom symbol is
unknown here, exactly like a symbol that does not exist."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from flint.market.api import Instrument
from flint.portfolio.assets.service import Custom, catalog


class Instruments(Protocol):
    """The listed instrument of a symbol: `MarketData` in the API, the packaged universe in a
    performance worker process."""

    def instrument(self, symbol: str) -> Instrument | None: ...


@dataclass(frozen=True)
class SymbolBook:
    market: Instruments
    custom: dict[str, Custom]
    _listed: dict[str, Instrument | None] = field(default_factory=dict, compare=False)
    """The market's answer per symbol, asked once (an import of 100,000 rows asks about a few
    hundred symbols several times a row)."""

    def _instrument(self, symbol: str) -> Instrument | None:
        try:
            return self._listed[symbol]
        except KeyError:
            known = self._listed[symbol] = self.market.instrument(symbol)
            return known

    def known(self, symbol: str) -> bool:
        return symbol in self.custom or self._instrument(symbol) is not None

    def canonical(self, symbol: str) -> str:
        """The symbol as the market names it: one instrument has one name in a ledger, so
        ``BRK.B`` and ``BRK-B`` (the universe's, Yahoo's spelling) are one position. A custom
        asset's or an unknown symbol is itself."""
        if symbol in self.custom:
            return symbol
        known = self._instrument(symbol)
        return known.symbol if known is not None else symbol

    def listed(self, symbol: str) -> bool:
        return symbol not in self.custom and self._instrument(symbol) is not None

    def currency(self, symbol: str) -> str:
        """The currency a symbol is quoted in, as the market spells it (``GBp``: pence)."""
        if symbol in self.custom:
            return self.custom[symbol].currency
        known = self._instrument(symbol)
        return known.currency if known else "USD"

    def asset_class(self, symbol: str) -> str:
        if symbol in self.custom:
            return self.custom[symbol].asset_class
        known = self._instrument(symbol)
        return known.type.value if known else "custom"


async def book(
    session: AsyncSession, market: Instruments, owner_id: uuid.UUID, symbols: Iterable[str | None]
) -> SymbolBook:
    return SymbolBook(market, await catalog(session, owner_id, (s for s in symbols if s)))
