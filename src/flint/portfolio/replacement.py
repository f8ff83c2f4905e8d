"""Replacing a portfolio's name, currency and lots at once (`PUT /portfolio/{portfolioId}`).

The ledger is read a chunk at a time and split, and the rows after the replacement replayed,
off the event loop: on a 100,000-row ledger this request took 10 s and held every other
request of the API process for up to 4 s (renumbering the kept rows one ORM object at a time,
reading and replaying the ledger on the loop)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from flint.errors import NotFound
from flint.kit.threads import crunch
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import backfill, cash, lots, pages
from flint.portfolio.cash import Row
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.portfolio.pages import Booked, stored_row
from flint.portfolio.schemas import LotIn, PortfolioReplace
from flint.portfolio.service import check_base, check_rows, positions_hold, refuse, touch


async def replace(
    session: AsyncSession, market: MarketData, portfolio: Portfolio, body: PortfolioReplace
) -> Portfolio:
    """New name, currency and lots; the ledger's other entries stay and must still add up.
    Lots mirrored from a followed account stay too: only its sync changes them (one sent
    back with its ``lot_id`` is left as it is). A lot sent with the ``lot_id`` of one entered
    here replaces it under the same id."""
    base = body.base_currency
    stored = await pages.booked(session, portfolio.id)  # a chunk at a time, as Booked rows
    split = await crunch(len(stored), _split_for_replace, stored)
    _check_lot_ids(body.assets, split.replaceable, split.mirrored)
    sent = [(i, asset) for i, asset in enumerate(body.assets) if asset.lot_id not in split.mirrored]
    assets = [asset for _, asset in sent]
    before = split.before
    check_base(market, base, split.kept)
    rows = [lots.asset_row(i, asset) for i, asset in sent]
    rows = await check_rows(session, market, portfolio.user_id, rows, utcnow().date(), base)
    after = await crunch(len(stored), sorted, [*rows, *split.kept], key=lambda r: r.date)
    await positions_hold(after, before, culprit="body.assets")
    if not body.allow_negative_cash:
        # Turning the setting off must leave no withdrawal short: compare with an empty ledger.
        turned_off = portfolio.allow_negative_cash
        where = "body.allowNegativeCash" if turned_off else "body.assets"
        await cash.check(session, market, base, [] if turned_off else before, after, culprit=where)
    await session.execute(
        delete(PortfolioTransaction).where(
            PortfolioTransaction.portfolio_id == portfolio.id,
            PortfolioTransaction.type == "buy",
            PortfolioTransaction.source_transaction_id.is_(None),
        )
    )
    # The new lots come first within their day, as they were checked: the rows kept move up
    # past them, in one statement, keeping their own order (a 100,000-row ledger renumbered
    # row by row took seconds).
    if assets:
        await session.execute(
            update(PortfolioTransaction)
            .where(PortfolioTransaction.portfolio_id == portfolio.id)
            .values(seq=PortfolioTransaction.seq + len(assets))
        )
    session.add_all(
        lots.lot(portfolio, i, asset, row, asset.lot_id)
        for i, (asset, row) in enumerate(zip(assets, rows, strict=True))
    )
    portfolio.name = body.name
    portfolio.base_currency = body.base_currency
    portfolio.allow_negative_cash = body.allow_negative_cash
    touch(portfolio)
    await session.flush()
    backfill.start(session, portfolio.id)
    return portfolio


@dataclass(frozen=True)
class _Replaced:
    """A ledger as `replace` splits it: every row before, the rows it keeps (all but the buys
    entered here), and the lot ids it may replace or must leave."""

    before: list[Row]
    kept: list[Row]
    replaceable: set[uuid.UUID]
    mirrored: set[uuid.UUID]


def _split_for_replace(stored: Sequence[Booked]) -> _Replaced:
    before, kept = [], []
    replaceable, mirrored = set(), set()
    for entry in stored:
        row = stored_row(entry)
        before.append(row)
        if entry.type != "buy":
            kept.append(row)
        elif entry.source_transaction_id is None:
            replaceable.add(entry.id)
        else:
            kept.append(row)
            mirrored.add(entry.id)
    return _Replaced(before, kept, replaceable, mirrored)


def _check_lot_ids(
    assets: Sequence[LotIn], replaceable: set[uuid.UUID], mirrored: set[uuid.UUID]
) -> None:
    """Each lot id sent names a lot this request may replace (``replaceable``: the lots
    entered in the portfolio) or a mirrored one (left as the sync made it), once: 404 for
    one of no lot of the portfolio (another user's is as unknown), 422 for one sent twice."""
    problems: list[tuple[str, str]] = []
    seen: set[uuid.UUID] = set()
    for index, asset in enumerate(assets):
        if asset.lot_id is None:
            continue
        if asset.lot_id not in replaceable and asset.lot_id not in mirrored:
            raise NotFound(f"No lot {asset.lot_id} in this portfolio (body.assets[{index}]).")
        if asset.lot_id in seen:
            problems.append((f"body.assets[{index}].lotId", f"lot {asset.lot_id} is sent twice"))
        seen.add(asset.lot_id)
    if problems:
        raise refuse(problems)
