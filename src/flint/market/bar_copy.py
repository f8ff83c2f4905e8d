"""How `flint.market.storage` writes bars on PostgreSQL: text-format COPY that Flint encodes
itself, straight into ``market_data`` or through a staging table and one merge.

Why text and not asyncpg's ``copy_records_to_table`` (binary COPY of tuples): asyncpg encodes a
`Decimal` into binary NUMERIC through ``Decimal.as_tuple()`` (a tuple of every digit, then base
10,000 digits), about a microsecond per price, five prices a bar, and that encoding, not the
server, was most of a bulk write's time. ``str(Decimal)`` is a twentieth of that, and the
server's NUMERIC and timestamp parsing runs on its own process while Flint encodes the next
chunk. The checks stay Flint's: every price goes through `price_text`, which keeps
`flint.db.to_stored_price`'s rule (finite, at most 20 integer digits, rounded half-even to 18
places) and only skips the quantize for the values it provably leaves alone.

A row of text COPY is its columns' input texts joined by tabs; a backslash, tab, newline or
carriage return inside a value is written as ``\\\\``, ``\\t``, ``\\n``, ``\\r``. Prices and
timestamps never hold one; symbols, intervals, data types and providers are escaped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from decimal import Decimal
from operator import index
from typing import Protocol

from asyncpg.exceptions import UniqueViolationError  # type: ignore[import-untyped]
from sqlalchemy import Table, column, select, table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from flint.db import driver_in_transaction, to_stored_price
from flint.market.providers.types import Bar

CHUNK_ROWS = 10_000
"""Rows per chunk of COPY data: the server parses one chunk while Flint encodes the next."""

STAGE = "market_data_stage"

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class BarRun(Protocol):
    """Consecutive bars of one series in key order (timestamps strictly increasing)."""

    @property
    def symbol(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def data_type(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def stamps(self) -> Sequence[datetime]: ...
    @property
    def bars(self) -> Sequence[Bar]: ...


def price_text(value: Decimal) -> str:
    """``value`` as PostgreSQL NUMERIC input, after `to_stored_price`'s checks and rounding.

    A finite Decimal whose ``str`` is plain notation (no exponent) of at most 20 characters
    has at most 20 integer digits and, behind at least one digit and the point, at most 18
    decimal places, so `to_stored_price` would return it unchanged: its text is sent as it is.
    Anything else (exponent notation, long values, NaN, infinities) goes through
    `to_stored_price`, which rounds it or raises its ValueError.
    """
    text_ = str(value)
    if len(text_) <= 20 and "E" not in text_ and "e" not in text_ and value.is_finite():
        return text_
    return str(to_stored_price(value))


def _escaped(value: str) -> str:
    return value.translate(_ESCAPES)


def encode(runs: Sequence[BarRun], fetched_at: datetime) -> list[bytes]:
    """The rows of ``runs`` as text COPY data in `storage`'s column order, ``CHUNK_ROWS``
    rows a chunk. Raises (before anything is sent) what `to_stored_price` raises."""
    price = price_text
    stamp_texts: dict[datetime, str] = {}  # bars of many symbols share their timestamps
    fetched = fetched_at.isoformat()
    chunks: list[bytes] = []
    lines: list[str] = []
    for run in runs:
        head = f"{_escaped(run.symbol)}\t{_escaped(run.step)}\t"
        tail = f"\t{_escaped(run.data_type)}\t{_escaped(run.provider)}\t{fetched}\n"
        for stamp, bar in zip(run.stamps, run.bars, strict=True):
            when = stamp_texts.get(stamp)
            if when is None:
                when = stamp_texts[stamp] = stamp.isoformat()
            close = price(bar.close)
            adjusted = close if bar.adj_close is bar.close else price(bar.adj_close)
            lines.append(
                f"{head}{when}\t{price(bar.open)}\t{price(bar.high)}\t{price(bar.low)}\t"
                f"{close}\t{adjusted}\t{index(bar.volume)}{tail}"
            )
            if len(lines) == CHUNK_ROWS:
                chunks.append("".join(lines).encode())
                lines.clear()
    if lines:
        chunks.append("".join(lines).encode())
    return chunks


async def _source(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


_ANY_STORED = text(
    "SELECT EXISTS (SELECT 1 FROM unnest(CAST(:symbols AS text[]), CAST(:steps AS text[]),"
    " CAST(:firsts AS timestamptz[]), CAST(:lasts AS timestamptz[]))"
    " AS span(symbol, step, first, last) CROSS JOIN LATERAL"
    " (SELECT 1 FROM market_data AS stored WHERE stored.symbol = span.symbol"
    " AND stored.interval = span.step"
    " AND stored.timestamp BETWEEN span.first AND span.last LIMIT 1) AS hit)"
)


async def any_stored(conn: AsyncConnection, runs: Sequence[BarRun]) -> bool:
    """Whether ``market_data`` holds any bar within the time span of one of ``runs`` (one
    index probe per run): if so, the rows about to be written may replace stored ones."""
    found = await conn.scalar(
        _ANY_STORED,
        {
            "symbols": [run.symbol for run in runs],
            "steps": [run.step for run in runs],
            "firsts": [run.stamps[0] for run in runs],
            "lasts": [run.stamps[-1] for run in runs],
        },
    )
    return bool(found)


async def copy_upsert(
    conn: AsyncConnection,
    bars: Table,
    columns: Sequence[str],
    key: Sequence[str],
    chunks: list[bytes],
    *,
    maybe_stored: bool,
) -> None:
    """Insert or replace the rows of ``chunks`` (text COPY data, in key order) in ``bars``.

    When none of them can exist yet (``maybe_stored`` false: `any_stored` found nothing
    in their spans; the usual case, as history is fetched only for the ranges storage lacks)
    they are COPYed straight into the table inside a SAVEPOINT; should a concurrent writer
    have stored one of them meanwhile, the COPY fails on the primary key and the savepoint
    undoes it. Otherwise the rows are COPYed into a temporary staging table and merged with
    one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` in key order (so concurrent writers
    lock rows in the same order).
    """
    driver = await driver_in_transaction(conn)
    if not maybe_stored:
        try:
            async with conn.begin_nested():
                await driver.copy_to_table(
                    bars.name, source=_source(chunks), columns=list(columns), format="text"
                )
            return
        except UniqueViolationError:
            pass
    await conn.execute(text(f"CREATE TEMPORARY TABLE {STAGE} (LIKE {bars.name}) ON COMMIT DROP"))
    await driver.copy_to_table(STAGE, source=_source(chunks), columns=list(columns), format="text")
    stage = table(STAGE, *(column(name) for name in columns))
    statement = postgresql.insert(bars).from_select(
        list(columns), select(*stage.c).order_by(*(stage.c[name] for name in key))
    )
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in columns if name not in key},
    )
    await conn.execute(statement)
    await conn.execute(text(f"DROP TABLE {STAGE}"))
