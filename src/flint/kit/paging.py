"""Keyset paging, newest first: rows ordered by a sort key (a date or a timestamp) and then
their id, ``limit`` at a time, with an opaque cursor naming the last row given out."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from flint.errors import ValidationFailed

Row = TypeVar("Row")


def _encode(key: date, ident: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{key.isoformat()}|{ident}".encode()).decode()


def _decode(cursor: str, parse: Callable[[str], date]) -> tuple[date, uuid.UUID]:
    try:
        text, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return parse(text), uuid.UUID(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        detail = "The cursor is not one this API gave out."
        raise ValidationFailed.at("query.cursor", detail) from exc


def decode_cursor(cursor: str, parse: Callable[[str], date]) -> tuple[date, uuid.UUID]:
    """The key and id a cursor names; 422 at ``query.cursor`` for one this API never gave."""
    return _decode(cursor, parse)


def page_of(rows: list[Row], limit: int, key: str, ident: str) -> tuple[list[Row], str | None]:
    """``limit + 1`` rows fetched newest first: the page, and the next page's cursor (None on
    the last page)."""
    more = len(rows) > limit
    rows = rows[:limit]
    if not (more and rows):
        return rows, None
    tail = rows[-1]
    return rows, _encode(getattr(tail, key), getattr(tail, ident))


async def newest_first(
    session: AsyncSession,
    stmt: Select[Row],
    key: InstrumentedAttribute[Any],
    ident: InstrumentedAttribute[uuid.UUID],
    *,
    parse: Callable[[str], date],
    limit: int,
    cursor: str | None,
) -> tuple[list[Row], str | None]:
    """One page of ``stmt``'s rows, newest first (``key``, then ``ident``), after ``cursor``;
    the cursor of the next page, or None on the last. ``parse`` reads a key back from its
    ISO form (raising ValueError for one this API never gave out)."""
    if cursor:
        after, last = _decode(cursor, parse)
        stmt = stmt.where(or_(key < after, and_(key == after, ident < last)))
    stmt = stmt.order_by(key.desc(), ident.desc()).limit(limit + 1)
    rows = list((await session.execute(stmt)).scalars())
    return page_of(rows, limit, key.key, ident.key)
