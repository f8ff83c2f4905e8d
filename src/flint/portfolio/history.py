"""The daily closes a portfolio's performance needs, stored in the background as soon as its
ledger changes, so no performance request waits for a decade of history.

A ledger write calls `backfill.start`, which sends ``flint.portfolio.backfill_history`` once
the transaction has committed. That task (`plan`) works out which symbols lack closes (what
`performance.load` answers as `Lacking`: the ledger's listed symbols from their first
transaction, the benchmark and the FX pairs) and sends one ``flint.portfolio.store_history``
task per batch of ``BATCH_SYMBOLS`` symbols, so several workers share the work. Each batch
(`store`) fetches what storage still lacks in a read-only session, then writes it in one short
transaction: a batch killed half-way leaves nothing behind and, sent again (tasks are
acknowledged late), fetches only what is still missing; the batches done before it are never
redone.

Until every batch is stored, a performance request answers with what is stored and a
``dataStatus`` saying what is missing (`computing.PerformanceService`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.db import commit
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import pages
from flint.portfolio.backfill import DEFAULT_BENCHMARK
from flint.portfolio.models import Portfolio
from flint.portfolio.performance import Lacking, Window, load
from flint.portfolio.symbols import Instruments

BATCH_SYMBOLS = 25
"""Symbols per stored batch (a decade of 25 symbols is about 63,000 bars, one transaction)."""

Windows = dict[str, tuple[date, date]]


async def plan(
    readers: async_sessionmaker[AsyncSession],
    instruments: Instruments,
    portfolio_id: uuid.UUID,
    benchmark: str = DEFAULT_BENCHMARK,
    *,
    size: int = BATCH_SYMBOLS,
) -> list[Windows]:
    """The windows (per symbol, inclusive dates) storage lacks for the portfolio's performance
    up to today, in batches of ``size`` symbols; none for a portfolio gone."""
    if instruments.instrument(benchmark) is None:
        benchmark = DEFAULT_BENCHMARK
    async with readers() as session:
        portfolio = await session.get(Portfolio, portfolio_id)
        if portfolio is None:
            return []
        ledger = await pages.at_once(session, portfolio.id)
        window = Window(None, utcnow().date(), benchmark, 0.0)
        got = await load(session, instruments, portfolio, ledger, window)
    if not isinstance(got, Lacking):
        return []
    symbols = sorted(got.windows)
    return [{symbol: got.windows[symbol] for symbol in batch} for batch in _batches(symbols, size)]


async def store(
    readers: async_sessionmaker[AsyncSession],
    writers: async_sessionmaker[AsyncSession],
    market: MarketData,
    windows: Mapping[str, tuple[date, date]],
) -> dict[str, int]:
    """Fetch what storage lacks of ``windows`` (reading only), then store it in one short
    transaction; returns the bars written per symbol (symbols no provider answers for are
    left out)."""
    async with readers() as session:
        series = await market.missing_history(session, windows, skip_failed=True)
    if any(item.bars for item in series):
        async with writers() as session:
            await market.store_history(session, series)
            await commit(session)
    written: dict[str, int] = {}
    for item in series:
        written[item.symbol] = written.get(item.symbol, 0) + len(item.bars)
    return written


def dump(windows: Mapping[str, tuple[date, date]]) -> str:
    """``windows`` as a task argument (JSON text)."""
    return json.dumps({s: [a.isoformat(), b.isoformat()] for s, (a, b) in windows.items()})


def parse(text: str) -> Windows:
    return {
        s: (date.fromisoformat(a), date.fromisoformat(b)) for s, (a, b) in json.loads(text).items()
    }


def _batches(symbols: list[str], size: int) -> list[list[str]]:
    return [symbols[at : at + size] for at in range(0, len(symbols), size)]
