"""Reading and writing stored bars and quotes (`flint.market.models`).

Every function takes the caller's `AsyncSession` and neither flushes nor commits: writes are
Core statements that run at once inside the caller's transaction.

Conventions:

* Bars are addressed by (symbol, interval, timestamp); ``timestamp`` is the start of the
  bar's period, timezone-aware. Writing a bar that exists replaces every value of it, so
  writing the same bars twice leaves one copy holding the values written last.
* Prices come back equal (``==``) to what was written, without trailing zeros and identical on
  both backends (see `flint.db.Price`); re-quantize with `quantize_price` to show.
* Only closed bars are final. The caller decides what to store as ``historical`` (closed, so
  never fetched again) and what as ``real-time`` (provisional).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    Text,
    and_,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from flint.db import table_of
from flint.kit.time import utcnow
from flint.market import bar_copy, bar_sqlite
from flint.market.models import DATA_TYPES, MarketBar, MarketDataWrite, MarketQuote
from flint.market.providers.types import Bar, Interval, Quote

WriteStrategy = Literal["copy", "executemany"]

_BARS = table_of(MarketBar)
_QUOTES = table_of(MarketQuote)
_WRITES = table_of(MarketDataWrite)
_KEY = ("symbol", "interval", "timestamp")
_COLUMNS = (
    "symbol",
    "interval",
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
    "data_type",
    "provider",
    "fetched_at",
)
"""market_data's columns in the order `upsert_bars` builds its row tuples."""
if set(_COLUMNS) != {col.name for col in _BARS.columns}:
    raise RuntimeError("storage._COLUMNS must name every market_data column")


def _write_strategy(dialect: str) -> WriteStrategy:
    """How `upsert_bars` writes on a backend: COPY (`flint.market.bar_copy`) on PostgreSQL,
    chunked executemany of INSERT ... ON CONFLICT DO UPDATE elsewhere (SQLite)."""
    return "copy" if dialect == "postgresql" else "executemany"


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class BarSeries:
    """Bars of one symbol at one interval from one provider, as `upsert_bars_many` takes them."""

    symbol: str
    interval: Interval
    bars: Sequence[Bar]
    provider: str
    data_type: str = "historical"


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
    One series of `upsert_bars_many`."""
    series = BarSeries(symbol, interval, bars, provider, data_type)
    return await upsert_bars_many(session, [series])


async def upsert_bars_many(session: AsyncSession, many: Sequence[BarSeries]) -> int:
    """Insert or replace the bars of every series in one write; returns the rows written.

    Within a series, bars sharing a timestamp are written once, the last of them winning
    (two series for the same symbol and interval: the later one wins). On PostgreSQL the rows
    go by text COPY (`flint.market.bar_copy`): straight into the table when no stored bar lies
    within any series' time span, else into a temporary staging table merged with one
    ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``. On SQLite they go through chunked
    executemany of ``INSERT ... ON CONFLICT DO UPDATE``. Either way every price is checked
    (and rounded) by `flint.db.to_stored_price` before anything is written.
    """
    fetched_at = utcnow()
    runs: list[_Run] = []
    for series in many:
        if series.data_type not in DATA_TYPES:
            raise ValueError(f"data_type must be one of {DATA_TYPES}, got {series.data_type!r}")
        stamps = [_utc(bar.timestamp, "bar timestamp") for bar in series.bars]
        step = Interval(series.interval).value
        runs.append(
            _Run(series.symbol, step, series.data_type, series.provider, stamps, series.bars)
        )
    runs.sort(key=_run_key)
    if not _in_key_order(runs):
        # Repeated timestamps or unsorted bars: the last bar of each key wins, in key order.
        runs = _deduplicated(runs)
    runs = [run for run in runs if run.bars]
    if not runs:
        return 0
    conn = await session.connection()
    if _write_strategy(conn.dialect.name) == "copy":
        chunks = bar_copy.encode(runs, fetched_at)
        stored = await bar_copy.any_stored(conn, runs)
        await bar_copy.copy_upsert(conn, _BARS, _COLUMNS, _KEY, chunks, maybe_stored=stored)
    else:
        await bar_sqlite.executemany_upsert(conn, _BARS, _COLUMNS, _KEY, runs, fetched_at)
    await _renew_tokens(conn, sorted({(run.symbol, run.step) for run in runs}), fetched_at)
    return sum(len(run.bars) for run in runs)


@dataclass(frozen=True)
class _Run:
    """Bars of one series to write (a `bar_copy.BarRun`), their timestamps in aware UTC."""

    symbol: str
    step: str
    data_type: str
    provider: str
    stamps: Sequence[datetime]
    bars: Sequence[Bar]


def _run_key(run: _Run) -> tuple[str, str]:
    return (run.symbol, run.step)


def _in_key_order(runs: list[_Run]) -> bool:
    """Whether every bar's (symbol, interval, timestamp) is greater than the one before (the
    usual case: series sorted by symbol, each series' bars oldest first, no repeats)."""
    return all(_run_key(a) < _run_key(b) for a, b in itertools.pairwise(runs)) and all(
        a < b for run in runs for a, b in itertools.pairwise(run.stamps)
    )


def _deduplicated(runs: list[_Run]) -> list[_Run]:
    """The bars of ``runs`` (sorted by key, stably) in key order, the last of each key kept,
    regrouped into runs of consecutive bars with the same symbol, interval, type and provider."""
    latest: dict[tuple[str, str, datetime], tuple[_Run, Bar]] = {}
    for run in runs:
        for stamp, bar in zip(run.stamps, run.bars, strict=True):
            latest[(run.symbol, run.step, stamp)] = (run, bar)
    out: list[_Run] = []
    for _, group in itertools.groupby(sorted(latest.items()), key=_origin):
        items = list(group)
        run = items[0][1][0]
        stamps = [stamp for (_symbol, _step, stamp), _ in items]
        bars = [bar for _, (_run, bar) in items]
        out.append(_Run(run.symbol, run.step, run.data_type, run.provider, stamps, bars))
    return out


def _origin(item: tuple[tuple[str, str, datetime], tuple[_Run, Bar]]) -> tuple[str, ...]:
    run = item[1][0]
    return (run.symbol, run.step, run.data_type, run.provider)


async def _renew_tokens(
    conn: AsyncConnection, series: list[tuple[str, str]], now: datetime
) -> None:
    """Give every written (symbol, interval) a new token (`MarketDataWrite`), in key order."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(_WRITES)
    statement = statement.on_conflict_do_update(
        index_elements=["symbol", "interval"],
        set_={"token": statement.excluded.token, "written_at": statement.excluded.written_at},
    )
    await conn.execute(
        statement,
        [
            {"symbol": symbol, "interval": step, "token": uuid.uuid4().hex, "written_at": now}
            for symbol, step in series
        ],
    )


async def write_tokens(
    session: AsyncSession, symbols: Sequence[str], interval: Interval
) -> dict[str, str]:
    """The current write token of each of ``symbols`` at ``interval`` (absent: never written
    since tokens exist). A token that has not changed means the stored bars have not."""
    t = _WRITES.c
    out: dict[str, str] = {}
    wanted = sorted(set(symbols))
    for at in range(0, len(wanted), IN_CHUNK):
        result = await session.execute(
            select(t.symbol, t.token).where(
                t.symbol.in_(wanted[at : at + IN_CHUNK]), t.interval == Interval(interval).value
            )
        )
        out.update((symbol, token) for symbol, token in result)
    return out


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


@dataclass(frozen=True)
class DailyCloses:
    """One symbol's stored daily closes as arrays, oldest first: ``days`` are the bars' UTC
    dates (``datetime64[D]``, the trading dates under Flint's conventions), ``closes`` their
    closes as float64, and ``provisional`` the days whose bar is ``real-time`` (its session
    was still open when it was written)."""

    days: npt.NDArray[np.datetime64]
    closes: npt.NDArray[np.float64]
    provisional: npt.NDArray[np.datetime64]


IN_CHUNK = 900
"""Symbols per ``IN (...)`` list: under SQLite's oldest limit of 999 bound parameters."""


def _day_number(dialect: str) -> ColumnElement[Any]:
    """The UTC date of a bar's timestamp as days since 1970-01-01 (floored, so instants
    before 1970 land on their own day too)."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", _BARS.c.timestamp) / 86400), BigInteger)
    # SQLite keeps UTC text; julianday() is fractional days, and the shift makes the integer
    # cast (which truncates toward zero) a floor for any date after 700 BC.
    return literal_column(
        "CAST(julianday(market_data.timestamp) - 2440587.5 + 1000000 AS INTEGER) - 1000000"
    )


def _joined(dialect: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.string_agg(cast(value, Text()), ",")
    return func.group_concat(value, ",")


def _numbers(text_: str | None, dtype: type) -> npt.NDArray[Any]:
    if not text_:
        return np.zeros(0, dtype=dtype)
    return np.array(text_.split(","), dtype=dtype)


async def load_daily_closes(
    session: AsyncSession, symbols: Sequence[str], start: date, end: date | None = None
) -> dict[str, DailyCloses]:
    """The stored daily closes of ``symbols`` on ``start`` through ``end`` (inclusive UTC
    dates; no ``end``: through the last stored), every symbol at once. Symbols without any
    are absent.

    The database does the reading and joins each symbol's days and closes into one text
    (``group_concat`` / ``string_agg``), so a decade of 500 symbols comes back as 500 rows
    rather than 1.3 million; the closes are read as the stored decimal text and parsed as
    float64 (the valuation's precision), never through `Decimal`. The joining order within a
    group is unspecified, but every aggregate of one group walks the same rows in the same
    order, so days and closes stay paired; each symbol is then sorted by day.
    """
    if not symbols:
        return {}
    conn = await session.connection()
    dialect = conn.dialect.name
    t = _BARS.c
    day = _day_number(dialect)
    bounds = [t.timestamp >= datetime.combine(start, time(), tzinfo=UTC)]
    if end is not None:
        bounds.append(t.timestamp < datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC))
    out: dict[str, DailyCloses] = {}
    wanted = sorted(set(symbols))
    for at in range(0, len(wanted), IN_CHUNK):
        statement = (
            select(
                t.symbol,
                _joined(dialect, day),
                _joined(dialect, t.close),
                _joined(dialect, case((t.data_type != "historical", day))),
            )
            .where(
                t.symbol.in_(wanted[at : at + IN_CHUNK]),
                t.interval == Interval.D1.value,
                *bounds,
            )
            .group_by(t.symbol)
        )
        result = await conn.execute(statement)
        for symbol, days_text, closes_text, provisional_text in result:
            days = _numbers(days_text, np.int64)
            closes = _numbers(closes_text, np.float64)
            order = np.argsort(days, kind="stable")
            out[symbol] = DailyCloses(
                days[order].astype("datetime64[D]"),
                closes[order],
                np.sort(_numbers(provisional_text, np.int64)).astype("datetime64[D]"),
            )
    return out


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
    return (await missing_ranges_many(session, interval, {symbol: expected}))[symbol]


RANGES_PER_QUERY = 100
"""Symbols whose stored bars `missing_ranges_many` reads in one statement (each its own
indexed time span)."""


async def missing_ranges_many(
    session: AsyncSession, interval: Interval, expected: Mapping[str, Sequence[datetime]]
) -> dict[str, list[tuple[date, date]]]:
    """`missing_ranges` of every symbol of ``expected`` (its expected timestamps), the stored
    bars read for `RANGES_PER_QUERY` symbols a statement: an import checks hundreds of
    symbols, a query each cost about a millisecond apiece."""
    wanted = {
        symbol: sorted({_utc(stamp, "expected timestamp") for stamp in stamps})
        for symbol, stamps in expected.items()
    }
    spans = [(symbol, stamps[0], stamps[-1]) for symbol, stamps in wanted.items() if stamps]
    stored: dict[str, set[datetime]] = {symbol: set() for symbol in wanted}
    t = _BARS.c
    for first in range(0, len(spans), RANGES_PER_QUERY):
        chunk = spans[first : first + RANGES_PER_QUERY]
        result = await session.execute(
            select(t.symbol, t.timestamp).where(
                t.interval == Interval(interval).value,
                t.data_type == "historical",
                or_(
                    *(
                        and_(t.symbol == symbol, t.timestamp >= lo, t.timestamp <= hi)
                        for symbol, lo, hi in chunk
                    )
                ),
            )
        )
        for symbol, stamp in result:
            stored[symbol].add(_utc(stamp, "stored timestamp"))
    return {symbol: _runs(stamps, stored[symbol]) for symbol, stamps in wanted.items()}


def _runs(wanted: Sequence[datetime], stored: set[datetime]) -> list[tuple[date, date]]:
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


async def first_bar_times(
    session: AsyncSession, symbols: Sequence[str], interval: Interval
) -> dict[str, datetime]:
    """The start of the oldest stored bar of each of ``symbols`` at ``interval`` (symbols with
    none are absent)."""
    if not symbols:
        return {}
    t = _BARS.c
    result = await session.execute(
        select(t.symbol, func.min(t.timestamp))
        .where(t.symbol.in_(list(symbols)), t.interval == Interval(interval).value)
        .group_by(t.symbol)
    )
    return dict(result.all())
