"""How `flint.market.storage` writes bars on SQLite: one ``INSERT ... ON CONFLICT DO UPDATE``
run by the driver's executemany over rows already in the form SQLite keeps (prices as
`flint.db.Price`'s text, timestamps as the column type's text), so SQLAlchemy does no per-row
work; each call runs in the driver's thread, and the event loop is free meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from operator import index
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from flint.db import canonical_price
from flint.market.bar_copy import BarRun, price_text

CHUNK_ROWS = 20_000
"""Rows per executemany call (each one trip to the driver's thread)."""


def price(value: Decimal) -> str:
    """``value`` as SQLite's price column keeps it (`flint.db.Price`: fixed-point text without
    trailing zeros, after `to_stored_price`). The plain-notation text of a short finite
    Decimal is stored as it is (`bar_copy.price_text`'s argument): only its trailing zeros are
    cut, which is what `canonical_price` does to it. (A text with a point and no exponent is
    such a Decimal's; the check is here first, as a bar's five prices are millions in a
    history's backfill.)"""
    text_ = str(value)
    if len(text_) <= 20 and "." in text_ and "E" not in text_:
        text_ = text_.rstrip("0").rstrip(".")
        return "0" if text_ in ("", "-") else text_
    text_ = price_text(value)
    if "." in text_ and "E" not in text_:
        text_ = text_.rstrip("0").rstrip(".")
        return "0" if text_ in ("", "-") else text_
    return format(canonical_price(Decimal(text_)), "f")


def rows(runs: Sequence[BarRun], fetched_at: datetime, stamp_text: Any) -> list[tuple[Any, ...]]:
    """The rows of ``runs`` in `storage`'s column order, as SQLite keeps them (each distinct
    timestamp formatted once: bars of many symbols share them)."""
    texts: dict[datetime, str] = {}
    fetched = stamp_text(fetched_at)
    out: list[tuple[Any, ...]] = []
    for run in runs:
        for stamp, bar in zip(run.stamps, run.bars, strict=True):
            when = texts.get(stamp)
            if when is None:
                when = texts[stamp] = stamp_text(stamp)
            close = price(bar.close)
            out.append(
                (
                    run.symbol,
                    run.step,
                    when,
                    price(bar.open),
                    price(bar.high),
                    price(bar.low),
                    close,
                    close if bar.adj_close is bar.close else price(bar.adj_close),
                    index(bar.volume),
                    run.data_type,
                    run.provider,
                    fetched,
                )
            )
    return out


async def executemany_upsert(
    conn: AsyncConnection,
    bars: Table,
    columns: Sequence[str],
    key: Sequence[str],
    runs: Sequence[BarRun],
    fetched_at: datetime,
) -> None:
    """Insert or replace the bars of ``runs`` in ``bars``, `CHUNK_ROWS` rows a call, inside
    the caller's transaction."""
    update = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key)
    statement = " ".join(
        [
            f"INSERT INTO {bars.name} ({', '.join(columns)})",
            f"VALUES ({', '.join('?' * len(columns))})",
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {update}",
        ]
    )
    stamp_text = bars.c.timestamp.type._cached_bind_processor(conn.dialect)
    assert stamp_text is not None
    prepared = rows(runs, fetched_at, stamp_text)
    for first in range(0, len(prepared), CHUNK_ROWS):
        await conn.exec_driver_sql(statement, prepared[first : first + CHUNK_ROWS])
