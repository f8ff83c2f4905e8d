"""Allocation grouped by symbol, asset class, currency or sector (`?groupBy=`).

Each position's value is its units (from the Decimal ledger) times its last close in the base
currency, at the currency's precision; cash is one more part (its symbol is the base currency,
its asset class ``cash``, its currency the base currency, its sector ``Cash``). Weights are of
the market value (positions and cash); groups are listed largest first, ties by key.
"""

from __future__ import annotations

from decimal import Decimal

from flint.portfolio.currencies import major
from flint.portfolio.figure_schemas import AllocationGroup, GroupBy
from flint.portfolio.replay import ZERO, Replay, in_currency
from flint.portfolio.symbols import SymbolBook

CASH_SECTOR = "Cash"


def key_of(book: SymbolBook, symbol: str, group_by: GroupBy) -> str | None:
    if group_by == "symbol":
        return symbol
    if group_by == "assetClass":
        return book.asset_class(symbol)
    if group_by == "currency":
        return major(book.currency(symbol))[0]
    if symbol in book.custom:
        return None
    known = book.market.instrument(symbol)
    return known.sector if known else None


def groups(
    run: Replay,
    prices: dict[str, float],
    book: SymbolBook,
    group_by: GroupBy,
    base: str,
) -> list[AllocationGroup]:
    """The groups of the positions held (``prices``: each one's last close) and the cash."""
    parts: dict[str | None, tuple[Decimal, list[str]]] = {}

    def add(key: str | None, worth: Decimal, symbol: str) -> None:
        total, symbols = parts.get(key, (ZERO, []))
        parts[key] = (total + worth, [*symbols, symbol])

    for symbol, h in sorted(run.holdings.items()):
        if h.quantity != 0:
            worth = in_currency(h.quantity * Decimal(repr(prices.get(symbol, 0.0))), base)
            add(key_of(book, symbol, group_by), worth, symbol)
    cash = in_currency(run.cash_at_end, base)
    if cash:
        cash_key = {"symbol": base, "assetClass": "cash", "currency": base}.get(
            group_by, CASH_SECTOR
        )
        add(cash_key, cash, base)
    whole = sum((total for total, _ in parts.values()), ZERO)
    rows = [
        AllocationGroup(
            key=key,
            value=total,
            weight=float(total / whole) if whole else None,
            symbols=symbols,
        )
        for key, (total, symbols) in parts.items()
    ]
    return sorted(rows, key=lambda g: (-g.value, g.key or ""))
