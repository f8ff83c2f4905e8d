"""The ledger read a part at a time, oldest first, as it replays ((date, seq), then the id):
a page of `GET /portfolio/{portfolioId}/transactions` after an opaque cursor, and the chunks an
export streams.

A 100,000-row ledger read whole was 21 MB built in one go on the event loop: 2.7 s during
which the API process answered nobody else (`/healthz` waited 2.8 s). A page is at most `PAGE`
rows; an export renders `CHUNK` rows at a time between its reads, so other requests go on."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.errors import ValidationFailed
from flint.portfolio.cash import Row
from flint.portfolio.models import PortfolioTransaction


class Booked(NamedTuple):
    """A transaction as `service.add_transactions` wrote it, or as a page or a chunk of the
    ledger reads it (the bulk path builds no ORM objects: an import of 100,000 rows spent more
    time making them than writing the rows)."""

    id: uuid.UUID
    date: date
    type: str
    symbol: str | None
    quantity: Decimal | None
    price: Decimal | None
    fee: Decimal
    amount: Decimal | None
    currency: str
    source_transaction_id: str | None = None


PAGE = 1000
"""The most rows a page holds (and how many it holds unless asked for fewer)."""
CHUNK = 500
"""Rows an export reads and renders at a time (about 15 ms of rendering)."""

Key = tuple[date, int, uuid.UUID]

_T = PortfolioTransaction
_COLUMNS: tuple[Any, ...] = (_T.id, _T.date, _T.type, _T.symbol, _T.quantity, _T.price)
_COLUMNS += (_T.fee, _T.amount, _T.currency, _T.source_transaction_id, _T.seq)
"""`Booked`'s fields in its order, then the order within a day."""
_ORDER = (_T.date, _T.seq, _T.id)
"""The ledger's order, as it replays."""


def _encode(key: Key) -> str:
    day, seq, ident = key
    return base64.urlsafe_b64encode(f"{day.isoformat()}|{seq}|{ident}".encode()).decode()


def decode(cursor: str) -> Key:
    """The last row a cursor names; 422 at ``query.cursor`` for one this API never gave."""
    try:
        day, seq, ident = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return date.fromisoformat(day), int(seq), uuid.UUID(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        detail = "The cursor is not one this API gave out."
        raise ValidationFailed.at("query.cursor", detail) from exc


@dataclass(frozen=True)
class Only:
    """Which rows a page holds: of one type, of one symbol, from ``start`` to ``end``."""

    type: str | None = None
    symbol: str | None = None
    start: date | None = None
    end: date | None = None

    def where(self, stmt: Select[Any]) -> Select[Any]:
        if self.type is not None:
            stmt = stmt.where(_T.type == self.type)
        if self.symbol is not None:
            stmt = stmt.where(_T.symbol == self.symbol)
        if self.start is not None:
            stmt = stmt.where(_T.date >= self.start)
        if self.end is not None:
            stmt = stmt.where(_T.date <= self.end)
        return stmt


EVERY = Only()
BUYS = Only(type="buy")


def _after(
    portfolio_id: uuid.UUID, last: Key | None, limit: int, *, only: Only = EVERY
) -> Select[Any]:
    stmt = only.where(select(*_COLUMNS).where(_T.portfolio_id == portfolio_id))
    if last is not None:
        day, seq, ident = last
        stmt = stmt.where(
            or_(
                _T.date > day,
                and_(_T.date == day, _T.seq > seq),
                and_(_T.date == day, _T.seq == seq, _T.id > ident),
            )
        )
    return stmt.order_by(*_ORDER).limit(limit)


def _booked(row: Any) -> Booked:
    return Booked(*row[:-1])


async def _read(
    session: AsyncSession,
    portfolio_id: uuid.UUID,
    last: Key | None,
    limit: int,
    *,
    only: Only = EVERY,
) -> tuple[list[Booked], Key | None]:
    """Up to ``limit`` rows (those ``only`` lets through) after ``last``, and the key of the
    last one read."""
    rows = (await session.execute(_after(portfolio_id, last, limit, only=only))).all()
    if not rows:
        return [], None
    tail = rows[-1]
    return [_booked(row) for row in rows], (tail.date, tail.seq, tail.id)


async def page(
    session: AsyncSession,
    portfolio_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    only: Only = EVERY,
) -> tuple[list[Booked], str | None]:
    """Up to ``limit`` rows after ``cursor``, and the next page's cursor (None on the last)."""
    last = decode(cursor) if cursor else None
    rows = (await session.execute(_after(portfolio_id, last, limit + 1, only=only))).all()
    if len(rows) <= limit:
        return [_booked(row) for row in rows], None
    tail = rows[limit - 1]
    kept = [_booked(row) for row in rows[:limit]]
    return kept, _encode((tail.date, tail.seq, tail.id))


async def chunks(
    sessions: async_sessionmaker[AsyncSession], portfolio_id: uuid.UUID, size: int = CHUNK
) -> AsyncIterator[list[Booked]]:
    """The whole ledger, ``size`` rows at a time, each read in a short transaction of its own
    (a long export holds no snapshot between its chunks; pass read-only sessions, which on
    SQLite take no write lock)."""
    last: Key | None = None
    while True:
        async with sessions() as session:
            rows, last = await _read(session, portfolio_id, last, size)
        if rows:
            yield rows
        if len(rows) < size:
            return


LedgerRow = PortfolioTransaction | Booked
"""A ledger row as the ORM reads it, or as a page or a chunk of the ledger does."""


def stored_row(entry: LedgerRow) -> Row:
    """A stored row as the checks replay it (``new=False``: already in the ledger)."""
    return Row(
        f"ledger[{entry.id}]", entry.date, entry.type, entry.symbol, entry.quantity,
        entry.price, entry.fee, entry.amount, entry.currency, new=False,
    )  # fmt: skip


async def _every(session: AsyncSession, portfolio_id: uuid.UUID, only: Only) -> list[Booked]:
    """Every row ``only`` lets through, oldest first, read in the session's transaction a
    chunk at a time, so the event loop serves others between chunks."""
    found: list[Booked] = []
    last: Key | None = None
    while True:
        chunk, last = await _read(session, portfolio_id, last, CHUNK * 4, only=only)
        found.extend(chunk)
        if len(chunk) < CHUNK * 4:
            return found


async def booked(session: AsyncSession, portfolio_id: uuid.UUID) -> list[Booked]:
    """The whole ledger, oldest first."""
    return await _every(session, portfolio_id, EVERY)


async def at_once(session: AsyncSession, portfolio_id: uuid.UUID) -> list[Booked]:
    """The whole ledger, oldest first, in one statement: one snapshot in a read session too
    (autocommit: each statement its own transaction), where a read a chunk at a time could
    meet a write between two chunks (a replacement renumbers the rows it keeps). What the
    performance figures are computed from, as tuples: 100,000 ORM objects took 2.8 s."""
    stmt = select(*_COLUMNS).where(_T.portfolio_id == portfolio_id).order_by(*_ORDER)
    return [_booked(row) for row in await session.execute(stmt)]


async def days_and_types(session: AsyncSession, portfolio_id: uuid.UUID) -> list[Any]:
    """Each (date, type) the ledger has rows of, oldest first: what the value chart marks (a
    few per day however many rows the day has; reading the whole ledger for it held the event
    loop for seconds)."""
    stmt = (
        select(_T.date, _T.type)
        .where(_T.portfolio_id == portfolio_id)
        .distinct()
        .order_by(_T.date, _T.type)
    )
    return list(await session.execute(stmt))


async def stored_rows(session: AsyncSession, portfolio_id: uuid.UUID) -> list[Row]:
    """The ledger as the checks replay it."""
    return [stored_row(b) for b in await booked(session, portfolio_id)]


async def lots(session: AsyncSession, portfolio_id: uuid.UUID) -> list[Booked]:
    """The portfolio's buys (its lots), oldest first."""
    return await _every(session, portfolio_id, BUYS)
