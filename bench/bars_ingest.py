"""``bars_ingest``: one million daily bars into PostgreSQL through Flint's storage path,
against a raw asyncpg COPY of the same rows.

A scratch database ``flint_bench_<random>`` is created on the server named by
``FLINT_BENCH_POSTGRES_URL`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``),
migrated with ``flint migrate`` and dropped at the end. SYMBOLS x DAYS bars (1,000 x 1,000)
are written in batches of BATCH_SYMBOLS symbols (100,000 bars), one transaction per batch:

* Flint (``bars_ingest``): ``storage.upsert_bars_many(session, [BarSeries(...), ...])``, one
  call for the batch's 100 symbols, the way ``flint backfill`` and ``MarketData.backfill``
  write, from ``Bar`` objects holding ``Decimal`` prices (each price checked and rounded);
* Flint per symbol (``bars_ingest.per_symbol``, informational): ``upsert_bars`` once per
  symbol, the way one history request writes, the same bars under other symbols;
* raw: one ``copy_records_to_table`` per batch of ready-made tuples (the same values) into
  ``bench_raw_bars``, created ``LIKE market_data INCLUDING ALL`` so it has the same columns,
  types, check constraint and primary-key index.

All start from empty tables and take turns batch by batch (who goes first rotates), so table
growth, checkpoints and autovacuum fall on all alike. Only the write calls are timed;
building the bars and the tuples is not. ratio = raw seconds / Flint seconds (Flint's
throughput relative to raw COPY); target ≥ 0.7. PostgreSQL unreachable: skipped.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import URL

from bench._common import Result, asyncpg_dsn, postgres_database, say

SYMBOLS = int(os.environ.get("FLINT_BENCH_INGEST_SYMBOLS", "1000"))
DAYS = 1000
BATCH_SYMBOLS = 100
TARGET = 0.7
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
    from flint.market import storage
    from flint.market.models import MarketBar
    from flint.market.providers.types import Bar, Interval

    columns = [column.name for column in MarketBar.__table__.columns]
    engine = create_engine(url.render_as_string(hide_password=False))
    sessions = create_sessionmaker(engine)
    raw = await asyncpg.connect(asyncpg_dsn(url))
    days = [FIRST_DAY + timedelta(days=d) for d in range(DAYS)]
    fetched_at = datetime.now(UTC)
    flint_seconds = each_seconds = raw_seconds = 0.0
    try:
        await raw.execute(f"CREATE TABLE {RAW_TABLE} (LIKE market_data INCLUDING ALL)")
        batches = range(0, SYMBOLS, BATCH_SYMBOLS)
        for number, first in enumerate(batches):
            numbers = range(first, min(first + BATCH_SYMBOLS, SYMBOLS))
            bars = {f"S{n:04d}": _bars(Bar, n, days) for n in numbers}
            # The per-symbol path writes the same bars under other symbols (no conflicts).
            each = {f"E{n:04d}": rows for n, rows in zip(numbers, bars.values(), strict=True)}

            async def write_many(bars: dict[str, list[Any]] = bars) -> float:
                series = [
                    storage.BarSeries(symbol, Interval.D1, rows, provider=PROVIDER)
                    for symbol, rows in bars.items()
                ]
                started = time.perf_counter()
                async with sessions() as session, session.begin():
                    await storage.upsert_bars_many(session, series)
                return time.perf_counter() - started

            async def write_each(bars: dict[str, list[Any]] = each) -> float:
                started = time.perf_counter()
                async with sessions() as session, session.begin():
                    for symbol, rows in bars.items():
                        await storage.upsert_bars(
                            session, symbol, Interval.D1, rows, provider=PROVIDER
                        )
                return time.perf_counter() - started

            records = [
                _record(columns, symbol, bar, fetched_at)
                for symbol, symbol_bars in bars.items()
                for bar in symbol_bars
            ]

            async def write_raw(records: list[tuple[Any, ...]] = records) -> float:
                started = time.perf_counter()
                async with raw.transaction():
                    await raw.copy_records_to_table(RAW_TABLE, records=records, columns=columns)
                return time.perf_counter() - started

            writers = {"many": write_many, "each": write_each, "raw": write_raw}
            order = list(writers)[number % 3 :] + list(writers)[: number % 3]  # rotate
            took = {name: await writers[name]() for name in order}
            flint_seconds += took["many"]
            each_seconds += took["each"]
            raw_seconds += took["raw"]
            say(
                f"batch {number + 1}/{len(batches)}: {len(records):,} bars, "
                f"flint {took['many']:.2f} s (per symbol {took['each']:.2f} s), "
                f"raw COPY {took['raw']:.2f} s"
            )
        written = await raw.fetchval("SELECT count(*) FROM market_data")
        copied = await raw.fetchval(f"SELECT count(*) FROM {RAW_TABLE}")  # noqa: S608
    finally:
        await raw.close()
        await engine.dispose()
    total = SYMBOLS * DAYS
    if written != 2 * total or copied != total:
        raise RuntimeError(f"expected {total} rows in each table, got {written} and {copied}")
    return [
        Result(
            name="bars_ingest",
            value=round(total / flint_seconds),
            unit="bars/s",
            baseline=round(total / raw_seconds),
            ratio=round(raw_seconds / flint_seconds, 3),
            target=TARGET,
            details={
                "bars": total,
                "symbols": SYMBOLS,
                "days": DAYS,
                "bars_per_transaction": BATCH_SYMBOLS * DAYS,
                "flint_seconds": round(flint_seconds, 3),
                "raw_copy_seconds": round(raw_seconds, 3),
                "database": "postgresql",
                "flint_call": "storage.upsert_bars_many, one call per transaction",
            },
        ),
        Result(
            name="bars_ingest.per_symbol",
            value=round(total / each_seconds),
            unit="bars/s",
            baseline=round(total / raw_seconds),
            ratio=round(raw_seconds / each_seconds, 3),
            target=None,
            details={
                "meaning": "the same bars through storage.upsert_bars, one call per symbol "
                "(1,000 bars each), as a single history request writes them",
                "flint_seconds": round(each_seconds, 3),
                "raw_copy_seconds": round(raw_seconds, 3),
            },
        ),
    ]


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
