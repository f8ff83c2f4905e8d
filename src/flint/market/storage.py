"""Reading and writing stored bars and quotes (`flint.market.models`).

Every function takes the caller's `AsyncSession` and neither flushes nor commits: writes are
Core statements that run at once inside the caller's transaction.

Conventions:

* Bars are addressed by (symbol, interval, timestamp); ``timestamp`` is the start of the
  bar's period, timezone-aware. Writing a bar that exists replaces every value of it, so
  writing the same bars twice leaves one copy holding the values written last.
* Prices come back equal (``==``) to what was written, without trailing zeros and identical on
  both backends (see `flint.market.models.Price`); re-quantize with `quantize_price` to show.
* Only closed bars are final. The caller decides what to store as ``historical`` (closed, so
  never fetched again) and what as ``real-time`` (provisional).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Table, column, select, table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from flint.kit.time import utcnow
from flint.market.models import DATA_TYPES, MarketBar, MarketQuote, to_stored_price
from flint.market.providers.types import Bar, Interval, Quote

WriteStrategy = Literal["copy", "executemany"]

SQLITE_CHUNK = 2000
"""Rows per executemany on SQLite: bounds the parameter list held in memory at once."""

_BARS: Table = MarketBar.__table__  # type: ignore[assignment]
_QUOTES: Table = MarketQuote.__table__  # type: ignore[assignment]
_KEY = ("symbol", "interval", "timestamp")
_COLUMNS = tuple(col.name for col in _BARS.columns)
_PRICES = ("open", "high", "low", "close", "adj_close")
_STAGE = "market_data_stage"


def _write_strategy(dialect: str) -> WriteStrategy:
    """How `upsert_bars` writes on a backend: COPY into a staging table on PostgreSQL,
    chunked executemany of INSERT ... ON CONFLICT DO UPDATE elsewhere (SQLite)."""
    return "copy" if dialect == "postgresql" else "executemany"


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


async def upsert_bars(
    session: AsyncSession,
    symbol: str,
    interval: Interval,
    bars: Sequence[Bar],
    *,
    provider: str,
    data_type: str = "historical",
) -> int:
    """Insert or replace ``bars`` of ``symbol`` at ``interval``; returns the rows written.

    Bars sharing a timestamp are written once, the last of them winning. On PostgreSQL the
    rows are COPYed into a temporary staging table and merged with one
    ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` (in key order, so concurrent writers lock
    rows in the same order); on SQLite they go through chunked executemany of
    ``INSERT ... ON CONFLICT DO UPDATE``.
    """
    if data_type not in DATA_TYPES:
        raise ValueError(f"data_type must be one of {DATA_TYPES}, got {data_type!r}")
    step = Interval(interval).value
    fetched_at = utcnow()
    latest: dict[datetime, Bar] = {}
    for bar in bars:
        latest[_utc(bar.timestamp, "bar timestamp")] = bar
    if not latest:
        return 0
    rows = [
        {
            "symbol": symbol,
            "interval": step,
            "timestamp": stamp,
            **{name: to_stored_price(getattr(bar, name)) for name in _PRICES},
            "volume": bar.volume,
            "data_type": data_type,
            "provider": provider,
            "fetched_at": fetched_at,
        }
        for stamp, bar in sorted(latest.items())
    ]
    conn = await session.connection()
    if _write_strategy(conn.dialect.name) == "copy":
        await _copy_upsert(conn, rows)
    else:
        await _executemany_upsert(conn, rows)
    return len(rows)


def _replace_all(excluded: Any) -> dict[str, Any]:
    return {name: excluded[name] for name in _COLUMNS if name not in _KEY}


async def _executemany_upsert(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    statement = sqlite.insert(_BARS)
    statement = statement.on_conflict_do_update(
        index_elements=list(_KEY), set_=_replace_all(statement.excluded)
    )
    for first in range(0, len(rows), SQLITE_CHUNK):
        await conn.execute(statement, rows[first : first + SQLITE_CHUNK])


async def _copy_upsert(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    # The CREATE goes through SQLAlchemy first so the transaction has begun before the COPY
    # runs on the same driver connection; ON COMMIT DROP is a backstop for the DROP below.
    await conn.execute(text(f"CREATE TEMPORARY TABLE {_STAGE} (LIKE {_BARS.name}) ON COMMIT DROP"))
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    # COPY skips the column types' conversions: rows already hold checked prices (Decimal) and
    # aware UTC datetimes, which asyncpg encodes as they are.
    records = (tuple(row[name] for name in _COLUMNS) for row in rows)
    await driver.copy_records_to_table(_STAGE, records=records, columns=list(_COLUMNS))
    stage = table(_STAGE, *(column(name) for name in _COLUMNS))
    statement = postgresql.insert(_BARS).from_select(
        list(_COLUMNS), select(*stage.c).order_by(*(stage.c[name] for name in _KEY))
    )
    statement = statement.on_conflict_do_update(
        index_elements=list(_KEY), set_=_replace_all(statement.excluded)
    )
    await conn.execute(statement)
    await conn.execute(text(f"DROP TABLE {_STAGE}"))


async def load_bars(
    session: AsyncSession, symbol: str, interval: Interval, start: datetime, end: datetime
) -> list[Bar]:
    """Stored bars of ``symbol`` at ``interval`` with ``start <= timestamp < end``, oldest
    first (half-open, so consecutive ranges never share a bar). Both bounds must be aware."""
    t = _BARS.c
    result = await session.execute(
        select(t.timestamp, t.open, t.high, t.low, t.close, t.adj_close, t.volume)
        .where(
            t.symbol == symbol,
            t.interval == Interval(interval).value,
            t.timestamp >= _utc(start, "start"),
            t.timestamp < _utc(end, "end"),
        )
        .order_by(t.timestamp)
    )
    return [Bar(*row) for row in result]


async def missing_ranges(
    session: AsyncSession, symbol: str, interval: Interval, expected: Sequence[datetime]
) -> list[tuple[date, date]]:
    """The inclusive date ranges to fetch so every ``expected`` bar is stored as historical.

    ``expected`` holds the timestamps of the closed bars the caller wants (from the calendar or
    a provider's conventions); bars stored as ``real-time`` count as missing. Expected
    timestamps without a stored bar are grouped into runs that no stored bar interrupts, and
    each run becomes ``(first.date(), last.date())`` in UTC, which is the trading date of every
    bar under Flint's conventions (daily bars are stamped at their session's open, and every
    modelled session lies within one UTC day). Runs that share a date (intraday gaps on one
    day) are merged, so no day is fetched twice. Nothing missing gives ``[]``.
    """
    wanted = sorted({_utc(stamp, "expected timestamp") for stamp in expected})
    if not wanted:
        return []
    t = _BARS.c
    result = await session.execute(
        select(t.timestamp).where(
            t.symbol == symbol,
            t.interval == Interval(interval).value,
            t.data_type == "historical",
            t.timestamp >= wanted[0],
            t.timestamp <= wanted[-1],
        )
    )
    stored = set(result.scalars())
    ranges: list[tuple[date, date]] = []
    run: list[datetime] = []
    for stamp in [*wanted, None]:
        if stamp is not None and stamp not in stored:
            run.append(stamp)
            continue
        if run:
            first, last = run[0].date(), run[-1].date()
            if ranges and first <= ranges[-1][1]:
                first = ranges.pop()[0]
            ranges.append((first, last))
            run = []
    return ranges


async def save_quote(session: AsyncSession, quote: Quote) -> None:
    """Keep ``quote`` as the symbol's last known quote, unless a newer one is already kept."""
    values = {
        "symbol": quote.symbol,
        "price": quote.price,
        "change": quote.change,
        "change_percent": quote.change_percent,
        "open": quote.open,
        "high": quote.high,
        "low": quote.low,
        "previous_close": quote.previous_close,
        "volume": quote.volume,
        "currency": quote.currency,
        "timestamp": _utc(quote.timestamp, "quote timestamp"),
        "provider": quote.provider,
        "fetched_at": utcnow(),
    }
    conn = await session.connection()
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(_QUOTES).values(values)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[_QUOTES.c.symbol],
        set_={name: excluded[name] for name in values if name != "symbol"},
        where=_QUOTES.c.timestamp <= excluded.timestamp,
    )
    await conn.execute(statement)


async def last_quote(session: AsyncSession, symbol: str) -> Quote | None:
    """The last quote kept for ``symbol``, or None; the caller decides how stale it is."""
    fields = [_QUOTES.c[name] for name in Quote.__dataclass_fields__]
    result = await session.execute(select(*fields).where(_QUOTES.c.symbol == symbol))
    row = result.mappings().first()
    return None if row is None else Quote(**row)
