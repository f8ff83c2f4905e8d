"""A portfolio's lots (its buys entered with the portfolio, `POST` and `PUT /portfolio`) as
the ledger's rows are checked and as they are kept."""

from __future__ import annotations

import uuid

from flint.portfolio.cash import Row
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.portfolio.schemas import AssetIn

LOT_NAMES = {"date": "purchaseDate", "price": "purchasePrice"}
"""A lot's fields the ledger's rows call otherwise."""


def asset_row(index: int, asset: AssetIn) -> Row:
    """The lot at ``body.assets[index]`` as a ledger row to check."""
    return Row(
        f"body.assets[{index}]",
        asset.purchase_date,
        "buy",
        asset.symbol,
        asset.quantity,
        asset.purchase_price,
        asset.fee,
        None,
        asset.currency,
        names=LOT_NAMES,
    )


def lot(
    portfolio: Portfolio, seq: int, asset: AssetIn, row: Row, lot_id: uuid.UUID | None = None
) -> PortfolioTransaction:
    """A lot (under ``lot_id`` when it replaces one), priced in its currency (by default its
    symbol's quote currency), under its symbol as the market names it (``row``: the lot as
    checked)."""
    return PortfolioTransaction(
        id=lot_id or uuid.uuid4(),
        portfolio_id=portfolio.id,
        seq=seq,
        date=asset.purchase_date,
        type="buy",
        symbol=row.symbol,
        quantity=asset.quantity,
        price=asset.purchase_price,
        fee=asset.fee,
        currency=row.currency,
    )
