"""``bars_ingest``: one million daily bars into PostgreSQL through Flint's storage path,
against a raw asyncpg COPY of the same rows, and what that raw COPY's time is made of.

A scratch database ``flint_bench_<random>`` is created on the server named by
``FLINT_BENCH_POSTGRES_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``),
migrated with ``flint migrate`` and dropped at the end. SYMBOLS x DAYS bars (1,000 x 1,000;
``FLINT_BENCH_INGEST_SYMBOLS`` for a shorter run) are written in batches of BATCH_SYMBOLS
symbols (100,000 bars), one transaction per batch and writer:

* Flint (``bars_ingest``): ``storage.upsert_bars_many(session, [BarSeries(...), ...])``, one
  call for the batch's 100 symbols, the way ``flint backfill`` and ``MarketData.backfill``
  write, from ``Bar`` objects holding ``Decimal`` prices (each price checked and rounded);
* Flint per symbol (``bars_ingest.per_symbol``, informational): ``upsert_bars`` once per
  symbol, the way one history request writes, the same bars under other symbols;
* raw (the baseline): one ``copy_records_to_table`` per batch of ready-made tuples (the same
  values) into ``bench_raw_bars``, created ``LIKE market_data INCLUDING ALL`` so it has the
  same columns, types, check constraint and primary-key index.

Informational entries break the raw COPY down, each as bars/s and relative to it:
``raw_no_index`` (the same COPY into a table without the primary-key index),
``raw_float8`` (float8 prices from float tuples instead of NUMERIC from Decimals: the price
encoding's cost), ``raw_unlogged`` (an UNLOGGED table: the WAL's cost), ``text_copy`` and
``text_copy_no_index`` (Flint's text COPY data, encoded before the clock starts: the server's
share of Flint's write, with and without the index), ``raw_merge`` (COPY into a temporary
table, then one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE`` of new rows: the staging
merge's cost). After every batch, the last batch is written again, over its stored rows:
``raw_merge_again`` and ``rewrite`` (Flint's ``upsert_bars_many`` replacing every bar).

All start from empty tables and take turns batch by batch (who goes first rotates), so table
growth, checkpoints and autovacuum fall on all alike. Only the write calls are timed;
building the bars and the tuples is not. ratio = raw seconds / Flint seconds (Flint's
throughput relative to raw COPY); target ≥ 0.85. PostgreSQL unreachable: skipped.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import URL

from bench._common import Result, asyncpg_dsn, postgres_database, say

SYMBOLS = int(os.environ.get("FLINT_BENCH_INGEST_SYMBOLS", "1000"))
DAYS = 1000
BATCH_SYMBOLS = 100
TARGET = 0.85
RAW_TABLE = "bench_raw_bars"
PROVIDER = "bench"
FIRST_DAY = datetime(2020, 1, 2, 14, 30, tzinfo=UTC)

_CENTS = [Decimal(cents).scaleb(-2) for cents in range(100_000)]
"""Prices 0.00..999.99 with two places, built once (Decimals are immutable, so rows share
them; Flint's per-price work is unchanged by that)."""


def run() -> list[Result]:
    return asyncio.run(_run())


async def _run() -> list[Result]:
    async with postgres_database() as url:
        return await _measure(url)


async def _measure(url: URL) -> list[Result]:
    import asyncpg

    from flint.db import create_engine, create_sessionmaker
    from flint.market import bar_copy, storage
    from flint.market.models import MarketBar
    from flint.market.providers.types import Bar, Interval

    columns = [column.name for column in MarketBar.__table__.columns]
    engine = create_engine(url.render_as_string(hide_password=False))
    sessions = create_sessionmaker(engine)
    raw = await asyncpg.connect(asyncpg_dsn(url))
    days = [FIRST_DAY + timedelta(days=d) for d in range(DAYS)]
    fetched_at = datetime.now(UTC)
    seconds = dict.fromkeys([*WRITERS, *AGAIN], 0.0)
    last: dict[str, Any] = {}
    try:
        for statement in _SHAPES:
            await raw.execute(statement)
        batches = range(0, SYMBOLS, BATCH_SYMBOLS)
        for number, first in enumerate(batches):
            numbers = range(first, min(first + BATCH_SYMBOLS, SYMBOLS))
            bars = {f"S{n:04d}": _bars(Bar, n, days) for n in numbers}
            # The per-symbol path writes the same bars under other symbols (no conflicts).
            each = {f"E{n:04d}": rows for n, rows in zip(numbers, bars.values(), strict=True)}
            series = [
                storage.BarSeries(symbol, Interval.D1, rows, provider=PROVIDER)
                for symbol, rows in bars.items()
            ]

            async def write_many(series: list[Any] = series) -> None:
                async with sessions() as session, session.begin():
                    await storage.upsert_bars_many(session, series)

            async def write_each(bars: dict[str, list[Any]] = each) -> None:
                async with sessions() as session, session.begin():
                    for symbol, rows in bars.items():
                        await storage.upsert_bars(
                            session, symbol, Interval.D1, rows, provider=PROVIDER
                        )

            records = [
                _record(columns, symbol, bar, fetched_at)
                for symbol, symbol_bars in bars.items()
                for bar in symbol_bars
            ]
            floats = [
                tuple(float(v) if isinstance(v, Decimal) else v for v in record)
                for record in records
            ]

            def copy(table: str, rows: list[tuple[Any, ...]] = records) -> Any:
                async def write() -> None:
                    async with raw.transaction():
                        await raw.copy_records_to_table(table, records=rows, columns=columns)

                return write

            async def merge(records: list[tuple[Any, ...]] = records) -> None:
                async with raw.transaction():
                    await raw.execute(
                        "CREATE TEMPORARY TABLE bench_stage (LIKE market_data) ON COMMIT DROP"
                    )
                    await raw.copy_records_to_table("bench_stage", records=records, columns=columns)
                    await raw.execute(_MERGE)

            # Flint's COPY text of the same rows, encoded before the clock starts.
            runs = [_Run(symbol, rows) for symbol, rows in bars.items()]
            encoded = bar_copy.encode(runs, fetched_at)

            def copy_text(table: str, chunks: list[bytes] = encoded) -> Any:
                async def write() -> None:
                    async with raw.transaction():
                        await raw.copy_to_table(
                            table, source=_each(chunks), columns=columns, format="text"
                        )

                return write

            writers = {
                "many": write_many,
                "each": write_each,
                "raw": copy(RAW_TABLE),
                "no_index": copy("bench_no_index"),
                "float8": copy("bench_float8", floats),
                "unlogged": copy("bench_unlogged"),
                "merge": merge,
                "text": copy_text("bench_text"),
                "text_no_index": copy_text("bench_text_no_index"),
            }
            turn = number % len(writers)
            order = list(writers)[turn:] + list(writers)[:turn]  # rotate who goes first
            took = {name: await _timed(writers[name]) for name in order}
            for name, spent in took.items():
                seconds[name] += spent
            say(
                f"batch {number + 1}/{len(batches)}: {len(records):,} bars, "
                + ", ".join(f"{name} {took[name]:.2f} s" for name in writers)
            )
            last = {"many": write_many, "merge": merge, "bars": len(records)}
        # Writing the last batch again, over its stored rows, after every first write was
        # timed (the updates leave dead rows behind, which the first writes should not meet).
        for name in AGAIN:
            seconds[name] += await _timed(last[name.removesuffix("_again")])
        written = await raw.fetchval("SELECT count(*) FROM market_data")
        copied = await raw.fetchval(f"SELECT count(*) FROM {RAW_TABLE}")  # noqa: S608
        merged = await raw.fetchval("SELECT count(*) FROM bench_merged")
    finally:
        await raw.close()
        await engine.dispose()
    total = SYMBOLS * DAYS
    if written != 2 * total or copied != total or merged != total:
        raise RuntimeError(
            f"expected {total} rows in each table, got {written}, {copied}, {merged}"
        )
    again = last["bars"]
    raw_seconds = seconds["raw"]
    baseline = round(total / raw_seconds)

    def informational(name: str, writer: str, meaning: str, bars: int = total) -> Result:
        rate = bars / seconds[writer]
        return Result(
            name=f"bars_ingest.{name}",
            value=round(rate),
            unit="bars/s",
            baseline=baseline,
            ratio=round(rate / (total / raw_seconds), 3),  # throughput relative to raw COPY
            target=None,
            details={"meaning": meaning, "bars": bars, "seconds": round(seconds[writer], 3)},
        )

    return [
        Result(
            name="bars_ingest",
            value=round(total / seconds["many"]),
            unit="bars/s",
            baseline=baseline,
            ratio=round(raw_seconds / seconds["many"], 3),
            target=TARGET,
            details={
                "bars": total,
                "symbols": SYMBOLS,
                "days": DAYS,
                "bars_per_transaction": BATCH_SYMBOLS * DAYS,
                "flint_seconds": round(seconds["many"], 3),
                "raw_copy_seconds": round(raw_seconds, 3),
                "database": "postgresql",
                "flint_call": "storage.upsert_bars_many, one call per transaction",
            },
        ),
        informational(
            "per_symbol",
            "each",
            "the same bars through storage.upsert_bars, one call per symbol (1,000 bars "
            "each), as a single history request writes them",
        ),
        informational(
            "raw_no_index",
            "no_index",
            "raw COPY into LIKE market_data without INCLUDING ALL: no primary-key index "
            "(and no check constraint)",
        ),
        informational(
            "raw_float8",
            "float8",
            "raw COPY into the same shape with float8 instead of NUMERIC(38, 18) prices, "
            "from float tuples",
        ),
        informational(
            "raw_unlogged", "unlogged", "raw COPY into an UNLOGGED copy of the shape (no WAL)"
        ),
        informational(
            "text_copy",
            "text",
            "asyncpg copy_to_table of Flint's COPY text of the same rows (bar_copy.encode, "
            "not timed) into LIKE market_data INCLUDING ALL: the server's share of Flint's write",
        ),
        informational(
            "text_copy_no_index",
            "text_no_index",
            "the same COPY text into LIKE market_data without the primary-key index",
        ),
        informational(
            "raw_merge",
            "merge",
            "raw COPY into a temporary table, then INSERT ... SELECT ... ORDER BY key ON "
            "CONFLICT DO UPDATE into an empty-at-first LIKE market_data INCLUDING ALL table "
            "(every row new)",
        ),
        informational(
            "raw_merge_again",
            "merge_again",
            "the last batch's raw merge again, every row replacing a stored one",
            again,
        ),
        informational(
            "rewrite",
            "many_again",
            "the last batch's upsert_bars_many again, every bar replacing a stored one "
            "(the direct COPY fails on the key and is undone, then staging table and merge)",
            again,
        ),
    ]


WRITERS = (
    "many",
    "each",
    "raw",
    "no_index",
    "float8",
    "unlogged",
    "merge",
    "text",
    "text_no_index",
)
AGAIN = ("many_again", "merge_again")
_PRICES = ("open", "high", "low", "close", "adj_close")
_SHAPES = [
    f"CREATE TABLE {RAW_TABLE} (LIKE market_data INCLUDING ALL)",
    "CREATE TABLE bench_no_index (LIKE market_data)",
    "CREATE TABLE bench_float8 (LIKE market_data INCLUDING ALL)",
    *(f"ALTER TABLE bench_float8 ALTER COLUMN {name} TYPE float8" for name in _PRICES),
    "CREATE UNLOGGED TABLE bench_unlogged (LIKE market_data INCLUDING ALL)",
    "CREATE TABLE bench_merged (LIKE market_data INCLUDING ALL)",
    "CREATE TABLE bench_text (LIKE market_data INCLUDING ALL)",
    "CREATE TABLE bench_text_no_index (LIKE market_data)",
]
_MERGE = """
    INSERT INTO bench_merged SELECT * FROM bench_stage ORDER BY symbol, interval, timestamp
    ON CONFLICT (symbol, interval, timestamp) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    adj_close = excluded.adj_close, volume = excluded.volume, data_type = excluded.data_type,
    provider = excluded.provider, fetched_at = excluded.fetched_at
"""


@dataclass(frozen=True)
class _Run:
    """One symbol's bars as `bar_copy.encode` takes them."""

    symbol: str
    bars: list[Any]
    step: str = "1d"
    data_type: str = "historical"
    provider: str = PROVIDER

    @property
    def stamps(self) -> list[datetime]:
        return [bar.timestamp for bar in self.bars]


async def _each(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:  # (bytes would be taken for a file name)
        yield chunk


async def _timed(write: Any) -> float:
    started = time.perf_counter()
    await write()
    return time.perf_counter() - started


def _bars(bar_type: Any, n: int, days: list[datetime]) -> list[Any]:
    """Plausible, deterministic OHLCV bars of symbol number ``n``, two-decimal prices."""
    bars = []
    base = 2_000 + (n * 7919) % 50_000
    for d, stamp in enumerate(days):
        close = base + (n * 31 + d * 17) % 1_000
        open_ = base + (n * 13 + d * 29) % 1_000
        low, high = min(open_, close) - 7, max(open_, close) + 11
        bars.append(
            bar_type(
                stamp,
                _CENTS[open_],
                _CENTS[high],
                _CENTS[low],
                _CENTS[close],
                _CENTS[close],
                1_000_000 + (n + d) % 5_000,
            )
        )
    return bars


def _record(columns: list[str], symbol: str, bar: Any, fetched_at: datetime) -> tuple[Any, ...]:
    """``bar`` as a ``market_data`` row (what ``upsert_bars`` stores), in ``columns`` order."""
    row = {
        "symbol": symbol,
        "interval": "1d",
        "timestamp": bar.timestamp,
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "adj_close": bar.adj_close,
        "volume": bar.volume,
        "data_type": "historical",
        "provider": PROVIDER,
        "fetched_at": fetched_at,
    }
    return tuple(row[name] for name in columns)
