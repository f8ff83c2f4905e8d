"""The in-memory copy of stored daily closes (`flint.portfolio.prices`): served while the
stored series is unchanged, read again as soon as any write touches it, and never mixed up
between databases."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flint.db import create_engine, create_sessionmaker
from flint.kit.calendar import session_open, trading_days
from flint.market import storage
from flint.market.providers.types import Bar, Interval
from flint.portfolio import prices


@pytest.fixture(autouse=True)
def forget() -> Iterator[None]:
    prices.clear()
    yield
    prices.clear()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


def bars(start: date, end: date, close: str) -> list[Bar]:
    price = Decimal(close)
    return [
        Bar(session_open(day), price, price, price, price, price, 1)
        for day in trading_days(start, end)
    ]


async def write(sessions: async_sessionmaker[AsyncSession], symbol: str, rows: list[Bar]) -> None:
    async with sessions() as session:
        await storage.upsert_bars(session, symbol, Interval.D1, rows, provider="sim")
        await session.commit()


async def closes(
    sessions: async_sessionmaker[AsyncSession], symbols: list[str], start: date
) -> dict[str, storage.DailyCloses]:
    async with sessions() as session:
        return await prices.daily_closes(session, symbols, start)


async def test_unchanged_series_are_served_from_memory_and_a_write_is_seen_at_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await write(sessions, "AAPL", bars(date(2024, 1, 1), date(2024, 1, 31), "10"))
    await write(sessions, "MSFT", bars(date(2024, 1, 1), date(2024, 1, 31), "20"))
    first = await closes(sessions, ["AAPL", "MSFT", "NONE"], date(2024, 1, 1))
    assert set(first) == {"AAPL", "MSFT"}
    assert first["AAPL"].closes.tolist() == [10.0] * 21

    again = await closes(sessions, ["AAPL", "MSFT"], date(2024, 1, 1))
    assert again["AAPL"] is first["AAPL"]  # the same arrays: nothing was read
    assert again["MSFT"] is first["MSFT"]
    later = await closes(sessions, ["AAPL"], date(2024, 1, 10))
    assert np.shares_memory(later["AAPL"].closes, first["AAPL"].closes)  # cut, not read

    # One close of AAPL is corrected: AAPL is read again, MSFT still comes from memory.
    await write(sessions, "AAPL", bars(date(2024, 1, 31), date(2024, 1, 31), "11"))
    after = await closes(sessions, ["AAPL", "MSFT"], date(2024, 1, 1))
    assert after["AAPL"].closes.tolist() == [10.0] * 20 + [11.0]
    assert after["MSFT"] is first["MSFT"]


async def test_an_earlier_start_than_held_is_read_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await write(sessions, "AAPL", bars(date(2024, 1, 1), date(2024, 2, 29), "10"))
    late = await closes(sessions, ["AAPL"], date(2024, 2, 1))
    assert late["AAPL"].days.tolist()[0] == date(2024, 2, 1)
    early = await closes(sessions, ["AAPL"], date(2024, 1, 1))
    assert early["AAPL"].days.tolist()[0] == date(2024, 1, 2)
    assert len(early["AAPL"].days) == 41


async def test_what_is_held_from_earlier_is_cut_to_what_a_cold_read_gives(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await write(sessions, "AAPL", bars(date(2024, 1, 1), date(2024, 2, 29), "10"))
    await write(sessions, "AAPL", bars(date(2024, 2, 5), date(2024, 2, 5), "12"))
    await closes(sessions, ["AAPL"], date(2024, 1, 1))  # held from January on
    warm = (await closes(sessions, ["AAPL"], date(2024, 2, 1)))["AAPL"]
    prices.clear()
    cold = (await closes(sessions, ["AAPL"], date(2024, 2, 1)))["AAPL"]
    assert warm.days.tolist() == cold.days.tolist()
    assert warm.days.tolist()[0] == date(2024, 2, 1)
    assert warm.closes.tolist() == cold.closes.tolist()


async def test_two_databases_never_share_what_is_held(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, sqlite_template: Path
) -> None:
    other_path = tmp_path / "other.db"
    shutil.copyfile(sqlite_template, other_path)
    other_url = f"sqlite+aiosqlite:///{other_path}"
    other_engine = create_engine(other_url)
    try:
        other = create_sessionmaker(other_engine)
        await write(sessions, "AAPL", bars(date(2024, 1, 1), date(2024, 1, 31), "10"))
        await write(other, "AAPL", bars(date(2024, 1, 1), date(2024, 1, 31), "99"))
        here = await closes(sessions, ["AAPL"], date(2024, 1, 1))
        there = await closes(other, ["AAPL"], date(2024, 1, 1))
        assert here["AAPL"].closes.tolist()[0] == 10.0
        assert there["AAPL"].closes.tolist()[0] == 99.0
    finally:
        await other_engine.dispose()


def test_between_cuts_at_the_end_inclusive() -> None:
    days = [date(2024, 1, d) for d in (2, 3, 4, 5)]
    held = storage.DailyCloses(
        np.array(days, dtype="datetime64[D]"),
        np.array([1.0, 2.0, 3.0, 4.0]),
        np.array([date(2024, 1, 5)], dtype="datetime64[D]"),
    )
    cut = prices.between(held, date(2024, 1, 4))
    assert cut.days.tolist() == days[:3]
    assert cut.closes.tolist() == [1.0, 2.0, 3.0]
    assert cut.provisional.tolist() == []
    assert prices.between(held, datetime(2024, 1, 9, tzinfo=UTC).date()) is held
