"""Who else cares about quotes, as the composition root wires it.

Market data sits below the features that use quotes, so it cannot ask them: the symbols to keep
fresh (what users watch or have alerts on) come from `sources`, and every batch of fresh quotes
is handed to the `listeners` (price alerts), from the worker's refresh and the stream's poller
alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from flint.market.providers.types import Quote

log = structlog.get_logger(__name__)

QuoteListener = Callable[[Sequence[Quote]], Awaitable[None]]
SymbolSource = Callable[[AsyncSession], Awaitable[Iterable[str]]]


@dataclass(frozen=True)
class QuoteFeed:
    sources: tuple[SymbolSource, ...] = ()
    listeners: tuple[QuoteListener, ...] = ()

    async def watched(self, session: AsyncSession) -> list[str]:
        """Every symbol some source names, sorted in Python (database collations order
        "^GSPC" differently)."""
        symbols: set[str] = set()
        for source in self.sources:
            symbols.update(await source(session))
        return sorted(symbols)

    async def tell(self, quotes: Sequence[Quote]) -> None:
        """Hand fresh quotes to every listener; one that fails is logged and never keeps the
        quotes from the others (nor from the caller, which has stored them already)."""
        if not quotes:
            return
        for listener in self.listeners:
            try:
                await listener(quotes)
            except Exception:
                log.exception("quote_listener_failed", quotes=len(quotes))
