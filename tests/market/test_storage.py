"""Stored bars and quotes on SQLite and PostgreSQL: exact decimals, idempotent upserts (COPY on
PostgreSQL), half-open range reads, missing ranges and the last known quote."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal, localcontext
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import event, func, select, text
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flint.db import Price, canonical_price, create_engine, create_sessionmaker, to_stored_price
from flint.kit.calendar import session_open, trading_days
from flint.market import bar_copy, bar_sqlite, storage
from flint.market.models import MarketBar
from flint.market.providers.types import Bar, Interval, Quote

D = Decimal
BTC = "BTC-USD"
AAPL = "AAPL"


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def bar(stamp: datetime, close: Decimal | str = "100.5", volume: int = 1_000) -> Bar:
    price = D(close)
    return Bar(stamp, price, price + 1, price - 1, price, price, volume)


def minute_bars(count: int, start: datetime = utc(2024, 3, 1)) -> list[Bar]:
    return [
        bar(start + timedelta(minutes=i), D("64000.12345678") + D(i) / 100, i) for i in range(count)
    ]


def daily_stamps(start: date, end: date) -> list[datetime]:
    return [session_open(day) for day in trading_days(start, end)]


async def write(
    sessions: async_sessionmaker[AsyncSession],
    symbol: str,
    interval: Interval,
    bars: list[Bar],
    **options: Any,
) -> int:
    async with sessions() as session:
        written = await storage.upsert_bars(
            session,
            symbol,
            interval,
            bars,
            provider=options.pop("provider", "simulated"),
            **options,
        )
        await session.commit()
    return written


async def read(
    sessions: async_sessionmaker[AsyncSession],
    symbol: str,
    interval: Interval,
    start: datetime = utc(1970, 1, 1),
    end: datetime = utc(2100, 1, 1),
) -> list[Bar]:
    async with sessions() as session:
        return await storage.load_bars(session, symbol, interval, start, end)


async def count_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return (await session.execute(select(func.count()).select_from(MarketBar))).scalar_one()


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[tuple[str, bool]]]:
    """The SQL statements the engine sends while inside, with whether each was an executemany."""
    seen: list[tuple[str, bool]] = []

    def record(*args: Any) -> None:
        _conn, _cursor, statement, _parameters, _context, executemany = args
        seen.append((" ".join(statement.split()), executemany))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


# --- exactness ------------------------------------------------------------------------------


async def test_prices_round_trip_exactly_with_the_same_digits_on_both_backends(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bars = [
        Bar(
            utc(2024, 1, 2),
            D("64123.12345678"),  # crypto, 8 places
            D("12345.123456789012345678"),  # 18 places, 23 significant digits
            D("0.000000012345678901"),  # a sub-cent token
            D("99999999999999999999.999999999999999999"),  # the largest NUMERIC(38, 18)
            D("1.08345"),  # EURUSD
            9_000_000_000_000_000_000,  # beyond 32 bits
        ),
        Bar(utc(2024, 1, 3), D("100.10"), D("100"), D("-0.5"), D("0"), D("1E+2"), 0),
    ]
    assert await write(sessions, BTC, Interval.D1, bars) == 2

    loaded = await read(sessions, BTC, Interval.D1)

    assert loaded == bars
    assert [str(value) for value in (loaded[0].open, loaded[0].high, loaded[0].close)] == [
        "64123.12345678",
        "12345.123456789012345678",
        "99999999999999999999.999999999999999999",
    ]
    assert loaded[0].low == D("1.2345678901E-8")
    # Trailing zeros are not kept (PostgreSQL pads to 18 places); integers stay integers.
    second = loaded[1]
    assert [str(v) for v in (second.open, second.high, second.low, second.close)] == [
        "100.1",
        "100",
        "-0.5",
        "0",
    ]
    assert str(second.adj_close) == "100"
    assert loaded[0].timestamp.tzinfo is UTC


async def test_prices_beyond_18_places_round_half_even_and_oversized_ones_are_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rounding = bar(utc(2024, 1, 2), "1.0000000000000000005")
    rounding = replace(rounding, high=D("1.0000000000000000015"))
    await write(sessions, BTC, Interval.D1, [rounding])

    (loaded,) = await read(sessions, BTC, Interval.D1)
    assert (loaded.open, loaded.high) == (D(1), D("1.000000000000000002"))

    async with sessions() as session:
        for price in (D("100000000000000000000"), D("NaN")):
            with pytest.raises(ValueError, match="price"):
                await storage.upsert_bars(
                    session, BTC, Interval.D1, [bar(utc(2024, 1, 3), price)], provider="x"
                )


PRICE_EDGES = [
    "0.000001234567891234",  # 20 characters, 18 places: sent as it is
    "-0.00000123456789123",
    "12345678901234567890",  # 20 integer digits
    "-1234567890123456789",
    "123456789012345678901",  # 21 integer digits: refused
    "99999999999999999999.9999999999999999995",  # rounds past 20 integer digits: refused
    "1.0000000000000000005",  # rounded half-even
    "1E+2",
    "1E-19",
    "0E-25",
    "-0",
    "NaN",
    "sNaN",
    "NaN123",
    "Infinity",
    "-Infinity",
]


def stored_text(value: Decimal) -> str | type[Exception]:
    """What the PostgreSQL COPY path sends for ``value``, or the error it raises."""
    try:
        return bar_copy.price_text(value)
    except ValueError:
        return ValueError


def kept_text(value: Decimal) -> str | type[Exception]:
    try:
        return str(to_stored_price(value))
    except ValueError:
        return ValueError


@pytest.mark.parametrize("value", PRICE_EDGES)
def test_copy_price_text_is_what_to_stored_price_keeps(value: str) -> None:
    assert stored_text(D(value)) == kept_text(D(value))
    with localcontext() as context:
        context.capitals = 0  # str() writes a lower-case exponent
        assert stored_text(D(value)) == kept_text(D(value))


@given(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=-30, max_value=5),
)
def test_copy_price_text_agrees_with_to_stored_price_on_any_decimal(
    digits: int, exponent: int
) -> None:
    value = D(digits).scaleb(exponent, Context(prec=60))
    assert stored_text(value) == kept_text(value)


def sqlite_text(value: Decimal) -> str | type[Exception]:
    """What the SQLite bulk path writes for ``value``, or the error it raises."""
    try:
        return bar_sqlite.price(value)
    except ValueError:
        return ValueError


def price_column_text(value: Decimal) -> str | type[Exception]:
    """What SQLite's price column (`flint.db.Price`) keeps for ``value``."""
    try:
        return format(canonical_price(to_stored_price(value)), "f")
    except ValueError:
        return ValueError


@pytest.mark.parametrize("value", [*PRICE_EDGES, "100.00", "0.000", "-0.00", "12.3400", "1E+3"])
def test_sqlite_price_text_is_what_the_price_column_keeps(value: str) -> None:
    assert sqlite_text(D(value)) == price_column_text(D(value))


@given(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=-30, max_value=5),
)
def test_sqlite_price_text_agrees_with_the_price_column_on_any_decimal(
    digits: int, exponent: int
) -> None:
    value = D(digits).scaleb(exponent, Context(prec=60))
    assert sqlite_text(value) == price_column_text(value)


def read_back(text_: str) -> str:
    """What SQLite's price column answers for ``text_`` kept in it, exponent and digits."""
    value = Price().process_result_value(text_, sqlite_dialect())
    assert value is not None
    return repr(value)


@pytest.mark.parametrize(
    "text_", [*PRICE_EDGES, "100.00", "0.000", "-0.00", "12.3400", "1E+3", "1e-5", "5.", ".5", "-0"]
)
def test_sqlite_price_text_reads_back_as_its_canonical_decimal_whoever_wrote_it(
    text_: str,
) -> None:
    if not D(text_).is_finite():
        return  # never kept: both writers refuse it
    assert read_back(text_) == repr(canonical_price(D(text_)))


@given(
    st.integers(min_value=-(10**38), max_value=10**38),
    st.integers(min_value=-18, max_value=5),
    st.sampled_from(["f", "e", "raw"]),
)
def test_any_kept_price_text_reads_back_as_its_canonical_decimal(
    digits: int, exponent: int, form: str
) -> None:
    value = D(digits).scaleb(exponent, Context(prec=60))
    assume(kept_text(value) is not ValueError)  # a price no writer keeps is never read
    text_ = {"f": format(value, "f"), "e": format(value, "e"), "raw": str(value)}[form]
    assert read_back(text_) == repr(canonical_price(D(text_)))
    if (written := sqlite_text(value)) is not ValueError:
        assert isinstance(written, str)
        assert read_back(written) == repr(canonical_price(to_stored_price(value)))


async def test_symbols_and_providers_with_copy_special_characters_are_stored_as_given(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    odd = "A\\B\tC"  # a backslash and a tab
    provider = "line\nbreak\r\\N"  # newline, carriage return, and what reads as NULL unescaped
    bars = [bar(utc(2024, 1, day)) for day in (2, 3)]
    await write(sessions, odd, Interval.D1, bars, provider=provider)
    # Again, over the stored bars (PostgreSQL: through the staging table).
    await write(sessions, odd, Interval.D1, bars, provider=provider)

    assert await read(sessions, odd, Interval.D1) == bars
    async with sessions() as session:
        rows = await session.execute(select(MarketBar.symbol, MarketBar.provider).distinct())
        assert rows.all() == [(odd, provider)]


async def test_two_series_of_one_symbol_the_later_wins_where_they_overlap(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stored = [bar(utc(2024, 1, day), "5") for day in (1, 2)]
    await write(sessions, AAPL, Interval.D1, stored, provider="stored")
    first = [bar(utc(2024, 1, day), "10") for day in (2, 3, 4)]
    second = [bar(utc(2024, 1, day), "20") for day in (4, 3)]  # newest first
    many = [
        storage.BarSeries(AAPL, Interval.D1, first, provider="yahoo"),
        storage.BarSeries(AAPL, Interval.D1, second, provider="alpha_vantage"),
    ]
    async with sessions() as session:
        assert await storage.upsert_bars_many(session, many) == 3
        await session.commit()

    assert await read(sessions, AAPL, Interval.D1) == [stored[0], first[0], *second[::-1]]
    async with sessions() as session:
        rows = await session.execute(
            select(MarketBar.timestamp, MarketBar.provider).order_by(MarketBar.timestamp)
        )
        assert [provider for _, provider in rows] == ["stored", "yahoo", *["alpha_vantage"] * 2]


async def test_bar_writes_join_the_callers_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        assert await storage.upsert_bars(
            session, BTC, Interval.M1, minute_bars(50), provider="simulated"
        )
        assert (
            len(
                await storage.load_bars(session, BTC, Interval.M1, utc(2024, 1, 1), utc(2025, 1, 1))
            )
            == 50
        )
        await session.rollback()

    assert await count_rows(sessions) == 0


# --- upserts --------------------------------------------------------------------------------


async def test_writing_bars_again_keeps_one_copy_with_the_new_values(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = [bar(utc(2024, 1, day), "10.25", 100) for day in (2, 3, 4)]
    assert await write(sessions, AAPL, Interval.D1, first, provider="yahoo") == 3
    assert await write(sessions, AAPL, Interval.D1, first, provider="yahoo") == 3
    assert await count_rows(sessions) == 3

    updated = [bar(utc(2024, 1, 4), "11.75", 250), bar(utc(2024, 1, 5), "12", 300)]
    assert await write(sessions, AAPL, Interval.D1, updated, provider="alpha_vantage") == 2

    assert await read(sessions, AAPL, Interval.D1) == [*first[:2], *updated]
    async with sessions() as session:
        rows = await session.execute(select(MarketBar.timestamp, MarketBar.provider))
        providers = {row.timestamp: row.provider for row in rows}
    assert providers[utc(2024, 1, 3)] == "yahoo"
    assert providers[utc(2024, 1, 4)] == "alpha_vantage"


async def test_bars_repeated_within_one_write_are_written_once_the_last_winning(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stamp = utc(2024, 1, 2)
    written = await write(sessions, AAPL, Interval.D1, [bar(stamp, "1"), bar(stamp, "2")])

    assert written == 1
    assert await read(sessions, AAPL, Interval.D1) == [bar(stamp, "2")]


async def test_empty_writes_and_bad_arguments(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session:
        assert await storage.upsert_bars(session, AAPL, Interval.D1, [], provider="x") == 0
        with pytest.raises(ValueError, match="data_type"):
            await storage.upsert_bars(
                session, AAPL, Interval.D1, [bar(utc(2024, 1, 2))], provider="x", data_type="live"
            )
        naive = datetime(2024, 1, 2)  # noqa: DTZ001 - the point of the test
        with pytest.raises(ValueError, match="timezone-aware"):
            await storage.upsert_bars(session, AAPL, Interval.D1, [bar(naive)], provider="x")
        with pytest.raises(ValueError, match="timezone-aware"):
            await storage.load_bars(session, AAPL, Interval.D1, naive, utc(2024, 2, 1))


def test_postgresql_writes_through_copy_and_sqlite_through_executemany() -> None:
    assert storage._write_strategy("postgresql") == "copy"
    assert storage._write_strategy("sqlite") == "executemany"


async def test_ten_thousand_bars_upsert_in_bulk(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    bars = minute_bars(10_000)
    later = [replace(b, close=b.close + D("0.00000001"), volume=b.volume + 1) for b in bars[5_000:]]
    extra = minute_bars(1_000, start=bars[-1].timestamp + timedelta(minutes=1))

    with statements(engine) as sent:
        async with sessions() as session:
            assert (
                await storage.upsert_bars(session, BTC, Interval.M1, bars, provider="sim") == 10_000
            )
            # A second write in the same transaction, half of it over stored bars (PostgreSQL:
            # stored bars lie within its span, so it goes through the staging table).
            assert (
                await storage.upsert_bars(session, BTC, Interval.M1, later + extra, provider="sim")
                == 6_000
            )
            await session.commit()

    assert await count_rows(sessions) == 11_000
    assert await read(sessions, BTC, Interval.M1) == [*bars[:5_000], *later, *extra]

    dialect = engine.dialect.name
    inserts = [(sql, many) for sql, many in sent if sql.startswith("INSERT INTO market_data ")]
    tokens = [sql for sql, _ in sent if sql.startswith("INSERT INTO market_data_writes ")]
    assert len(tokens) == 2  # each write renews the series' token, once
    if storage._write_strategy(dialect) == "copy":
        assert [sql for sql, _ in sent if sql.startswith("CREATE TEMPORARY TABLE")] == [
            "CREATE TEMPORARY TABLE market_data_stage (LIKE market_data) ON COMMIT DROP"
        ]
        # Only the first write's bars were COPYed straight into market_data; the second one
        # found stored bars within its span and did not try.
        assert [sql.split()[0] for sql, _ in sent if "SAVEPOINT" in sql] == [
            "SAVEPOINT",
            "RELEASE",
        ]
        assert len(inserts) == 1  # one merge, for the second write; every row went by COPY
        assert all("SELECT" in sql and "FROM market_data_stage" in sql for sql, _ in inserts)
        assert not any(many for _, many in inserts)
    else:
        assert inserts
        assert all(many and "ON CONFLICT" in sql for sql, many in inserts)
        assert len(inserts) == -(-10_000 // bar_sqlite.CHUNK_ROWS) + -(
            -6_000 // bar_sqlite.CHUNK_ROWS
        )


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_the_postgresql_staging_table_is_gone_after_each_write(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await storage.upsert_bars(session, BTC, Interval.M1, minute_bars(10), provider="sim")
        # Over stored bars: this write goes through the staging table.
        await storage.upsert_bars(session, BTC, Interval.M1, minute_bars(20), provider="sim")
        gone = await session.execute(text("SELECT to_regclass('pg_temp.market_data_stage')"))
        assert gone.scalar_one() is None
        await session.commit()
    assert await count_rows(sessions) == 20


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_direct_copy_that_meets_stored_bars_is_undone_and_merged_instead(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """What happens when a concurrent writer stores some of the bars after `any_stored`
    found none: the COPY fails on the key, its savepoint is rolled back, and the merge
    replaces the stored bars."""
    await write(sessions, BTC, Interval.M1, minute_bars(30), provider="first")
    again = [replace(b, close=b.close + 1) for b in minute_bars(60)]  # 30 stored, 30 new
    runs = [storage._Run(BTC, "1m", "historical", "second", [b.timestamp for b in again], again)]
    chunks = bar_copy.encode(runs, utc(2024, 6, 1))
    with statements(engine) as sent:
        async with sessions() as session:
            conn = await session.connection()
            assert await bar_copy.any_stored(conn, runs)
            await bar_copy.copy_upsert(
                conn,
                MarketBar.__table__,
                storage._COLUMNS,
                storage._KEY,
                chunks,
                maybe_stored=False,
            )
            await session.commit()

    assert [sql.split()[0] for sql, _ in sent if "SAVEPOINT" in sql] == ["SAVEPOINT", "ROLLBACK"]
    assert await read(sessions, BTC, Interval.M1) == again
    assert await count_rows(sessions) == 60


async def test_filling_a_gap_between_stored_bars_keeps_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bars = minute_bars(30)
    await write(sessions, BTC, Interval.M1, bars[:10] + bars[20:], provider="first")
    gap = [replace(b, volume=7) for b in bars[10:20]]
    assert await write(sessions, BTC, Interval.M1, gap, provider="second") == 10

    assert await read(sessions, BTC, Interval.M1) == [*bars[:10], *gap, *bars[20:]]


async def test_many_series_go_in_one_write_new_and_stored_bars_alike(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    eth = "ETH-USD"
    await write(sessions, BTC, Interval.M1, minute_bars(100))
    btc = [replace(b, close=b.close + 1) for b in minute_bars(150)]  # 100 stored, 50 new
    eth_bars = minute_bars(80)
    daily = [bar(stamp) for stamp in daily_stamps(date(2024, 1, 2), date(2024, 1, 31))]
    many = [
        storage.BarSeries(BTC, Interval.M1, btc, provider="yahoo"),
        storage.BarSeries(eth, Interval.M1, eth_bars, provider="alpha_vantage"),
        storage.BarSeries(eth, Interval.D1, daily, provider="yahoo", data_type="real-time"),
    ]
    with statements(engine) as sent:
        async with sessions() as session:
            assert await storage.upsert_bars_many(session, many) == 150 + 80 + len(daily)
            await session.commit()

    assert await read(sessions, BTC, Interval.M1) == btc
    assert await read(sessions, eth, Interval.M1) == eth_bars
    assert await read(sessions, eth, Interval.D1) == daily
    assert await count_rows(sessions) == 150 + 80 + len(daily)
    async with sessions() as session:
        kinds = await session.execute(
            select(MarketBar.symbol, MarketBar.interval, MarketBar.provider, MarketBar.data_type)
            .distinct()
            .order_by(MarketBar.symbol, MarketBar.interval)
        )
        assert kinds.all() == [
            (BTC, "1m", "yahoo", "historical"),
            (eth, "1d", "yahoo", "real-time"),
            (eth, "1m", "alpha_vantage", "historical"),
        ]
    if storage._write_strategy(engine.dialect.name) == "copy":
        merges = [sql for sql, _ in sent if sql.startswith("INSERT INTO market_data ")]
        assert len(merges) == 1  # one staging merge for all three series


async def test_a_bad_series_fails_the_whole_write(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    many = [
        storage.BarSeries(BTC, Interval.M1, minute_bars(5), provider="yahoo"),
        storage.BarSeries(BTC, Interval.D1, minute_bars(5), provider="yahoo", data_type="live"),
    ]
    async with sessions() as session:
        with pytest.raises(ValueError, match="data_type"):
            await storage.upsert_bars_many(session, many)
        await session.commit()
    assert await count_rows(sessions) == 0


# --- reading ranges -------------------------------------------------------------------------


async def test_loading_takes_start_inclusive_end_exclusive_for_one_symbol_and_interval(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hours = [bar(utc(2024, 5, 1, hour)) for hour in range(6)]
    await write(sessions, BTC, Interval.H1, list(reversed(hours)))
    await write(sessions, BTC, Interval.D1, [bar(utc(2024, 5, 1, 2))])
    await write(sessions, "ETH-USD", Interval.H1, [bar(utc(2024, 5, 1, 2))])

    assert (
        await read(sessions, BTC, Interval.H1, utc(2024, 5, 1, 1), utc(2024, 5, 1, 4))
        == (hours[1:4])
    )
    assert await read(sessions, BTC, Interval.H1) == hours
    assert await read(sessions, BTC, Interval.H1, utc(2024, 5, 1, 2), utc(2024, 5, 1, 2)) == []
    # Bounds in another zone mean the same instants.
    new_york = datetime(2024, 4, 30, 20, tzinfo=ZoneInfo("America/New_York"))  # 00:00 UTC
    assert await read(sessions, BTC, Interval.H1, new_york, utc(2024, 5, 1, 1)) == hours[:1]


# --- missing ranges -------------------------------------------------------------------------

JANUARY = daily_stamps(date(2024, 1, 1), date(2024, 1, 31))  # 21 NYSE sessions, 2 Jan to 31 Jan


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        pytest.param(JANUARY, [], id="none-missing"),
        pytest.param([], [(date(2024, 1, 2), date(2024, 1, 31))], id="all-missing"),
        pytest.param(JANUARY[3:], [(date(2024, 1, 2), date(2024, 1, 4))], id="start"),
        pytest.param(JANUARY[:-2], [(date(2024, 1, 30), date(2024, 1, 31))], id="end"),
        pytest.param(
            JANUARY[:5] + JANUARY[6:8] + JANUARY[10:],
            # 9 Jan, then 12 and 16 Jan: one run, as Martin Luther King Day has no bar to miss
            [(date(2024, 1, 9), date(2024, 1, 9)), (date(2024, 1, 12), date(2024, 1, 16))],
            id="middle",
        ),
        pytest.param(
            JANUARY[1:-1],
            [(date(2024, 1, 2), date(2024, 1, 2)), (date(2024, 1, 31), date(2024, 1, 31))],
            id="both-ends",
        ),
    ],
)
async def test_missing_ranges_cover_exactly_the_expected_bars_not_stored(
    sessions: async_sessionmaker[AsyncSession],
    stored: list[datetime],
    expected: list[tuple[date, date]],
) -> None:
    if stored:
        await write(sessions, AAPL, Interval.D1, [bar(stamp) for stamp in stored])
    async with sessions() as session:
        assert await storage.missing_ranges(session, AAPL, Interval.D1, JANUARY) == expected
        assert await storage.missing_ranges(session, AAPL, Interval.D1, []) == []


async def test_missing_ranges_count_real_time_bars_and_other_symbols_as_missing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await write(sessions, AAPL, Interval.D1, [bar(stamp) for stamp in JANUARY[:-1]])
    await write(sessions, AAPL, Interval.D1, [bar(JANUARY[-1])], data_type="real-time")
    await write(sessions, "MSFT", Interval.D1, [bar(stamp) for stamp in JANUARY])
    await write(sessions, AAPL, Interval.W1, [bar(stamp) for stamp in JANUARY])

    async with sessions() as session:
        shuffled = list(reversed(JANUARY)) + JANUARY[:3]  # order and repeats do not matter
        assert await storage.missing_ranges(session, AAPL, Interval.D1, shuffled) == [
            (date(2024, 1, 31), date(2024, 1, 31))
        ]

    await write(sessions, AAPL, Interval.D1, [bar(JANUARY[-1])])  # the closed bar replaces it
    async with sessions() as session:
        assert await storage.missing_ranges(session, AAPL, Interval.D1, JANUARY) == []


async def test_missing_ranges_of_many_symbols_read_each_symbols_own_span(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `missing_ranges` answers per symbol, for many symbols a statement: a symbol's bars
    outside its own span (but inside another's) never count for it, nor another symbol's."""
    monkeypatch.setattr(storage, "RANGES_PER_QUERY", 2)  # three statements for five symbols
    await write(sessions, AAPL, Interval.D1, [bar(stamp) for stamp in JANUARY[:10]])
    await write(sessions, "MSFT", Interval.D1, [bar(stamp) for stamp in JANUARY[10:]])
    await write(sessions, "NVDA", Interval.D1, [bar(JANUARY[5])], data_type="real-time")
    expected = {
        AAPL: JANUARY[5:15],
        "MSFT": JANUARY[:12],
        "NVDA": JANUARY[3:8],
        "VTI": JANUARY,
        "AMZN": [],
    }
    async with sessions() as session:
        many = await storage.missing_ranges_many(session, Interval.D1, expected)
        one_by_one = {
            symbol: await storage.missing_ranges(session, symbol, Interval.D1, stamps)
            for symbol, stamps in expected.items()
        }
    assert many == one_by_one
    assert many == {
        AAPL: [(JANUARY[10].date(), JANUARY[14].date())],
        "MSFT": [(JANUARY[0].date(), JANUARY[9].date())],
        "NVDA": [(JANUARY[3].date(), JANUARY[7].date())],
        "VTI": [(JANUARY[0].date(), JANUARY[-1].date())],
        "AMZN": [],
    }


async def test_intraday_gaps_on_one_day_give_that_day_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    day_one = [utc(2024, 5, 1, hour) for hour in range(24)]
    day_two = [utc(2024, 5, 2, hour) for hour in range(24)]
    present = [stamp for i, stamp in enumerate(day_one) if i % 5] + day_two[:3] + day_two[4:]
    await write(sessions, BTC, Interval.H1, [bar(stamp) for stamp in present])

    async with sessions() as session:
        # Five gaps on 1 May and one on 2 May; days are not merged across stored bars.
        assert await storage.missing_ranges(session, BTC, Interval.H1, day_one + day_two) == [
            (date(2024, 5, 1), date(2024, 5, 1)),
            (date(2024, 5, 2), date(2024, 5, 2)),
        ]
        assert await storage.missing_ranges(session, BTC, Interval.H1, day_two) == [
            (date(2024, 5, 2), date(2024, 5, 2))
        ]


# --- quotes ---------------------------------------------------------------------------------


def quote(symbol: str, price: str, at: datetime, provider: str = "simulated") -> Quote:
    value = D(price)
    return Quote(
        symbol=symbol,
        price=value,
        change=D("-0.00012345"),
        change_percent=D("-0.37"),
        open=value + 1,
        high=value + 2,
        low=value - 1,
        previous_close=value + D("0.00012345"),
        volume=123_456_789_012,
        currency="USD",
        timestamp=at,
        provider=provider,
    )


async def test_the_last_quote_is_kept_per_symbol_and_an_older_one_never_replaces_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = quote(BTC, "64123.12345678", utc(2024, 5, 1, 12))
    newer = quote(BTC, "64200.5", utc(2024, 5, 1, 12, 1), provider="yahoo")
    older = quote(BTC, "1", utc(2024, 5, 1, 11))
    other = quote(AAPL, "189.84", utc(2024, 5, 1, 12))

    async with sessions() as session:
        assert await storage.last_quote(session, BTC) is None
        await storage.save_quote(session, first)
        await storage.save_quote(session, other)
        await session.commit()
    async with sessions() as session:
        assert await storage.last_quote(session, BTC) == first
        await storage.save_quote(session, newer)
        await storage.save_quote(session, older)
        await session.commit()
    async with sessions() as session:
        assert await storage.last_quote(session, BTC) == newer
        assert await storage.last_quote(session, AAPL) == other
        assert await storage.last_quote(session, "ETH-USD") is None


# --- daily closes in bulk, write tokens -----------------------------------------------------


async def test_daily_closes_load_every_symbol_at_once_as_arrays_equal_to_the_bars(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stamps = daily_stamps(date(2024, 1, 1), date(2024, 3, 31))
    aapl = [bar(s, D("187.15") + D(i) / 7) for i, s in enumerate(stamps)]
    # Crypto bars start at midnight UTC; one before 1970 must land on its own day.
    btc = [bar(utc(2024, 1, day), D("42000.5") + day) for day in range(1, 11)]
    old = [bar(datetime(1969, 12, 31, 14, 30, tzinfo=UTC), "3.25")]
    await write(sessions, AAPL, Interval.D1, list(reversed(aapl)))
    await write(sessions, BTC, Interval.D1, btc[:5])
    await write(sessions, BTC, Interval.D1, btc[5:], data_type="real-time")
    await write(sessions, BTC, Interval.H1, [bar(utc(2024, 1, 3, 5))])  # another interval
    await write(sessions, "OLD", Interval.D1, old)

    async with sessions() as session:
        got = await storage.load_daily_closes(
            session, [AAPL, BTC, "OLD", "NONE"], date(1969, 1, 1), date(2024, 3, 28)
        )
        through = await storage.load_daily_closes(session, [AAPL], date(2024, 3, 1))

    assert set(got) == {AAPL, BTC, "OLD"}
    kept = [b for b in aapl if b.timestamp.date() <= date(2024, 3, 28)]
    assert got[AAPL].days.tolist() == [b.timestamp.date() for b in kept]
    assert got[AAPL].closes.tolist() == [float(b.close) for b in kept]
    assert got[AAPL].provisional.tolist() == []
    assert got[BTC].days.tolist() == [date(2024, 1, d) for d in range(1, 11)]
    assert got[BTC].closes.tolist() == [42001.5 + d - 1 for d in range(1, 11)]
    assert got[BTC].provisional.tolist() == [date(2024, 1, d) for d in range(6, 11)]
    assert got["OLD"].days.tolist() == [date(1969, 12, 31)]
    assert got["OLD"].closes.tolist() == [3.25]
    # Without an end: through the last stored bar.
    assert through[AAPL].days.tolist()[-1] == date(2024, 3, 28)
    assert through[AAPL].days.tolist()[0] == date(2024, 3, 1)


async def test_every_write_renews_the_written_series_tokens_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def tokens() -> dict[str, str]:
        async with sessions() as session:
            return await storage.write_tokens(session, [AAPL, BTC, "NONE"], Interval.D1)

    assert await tokens() == {}
    await write(sessions, AAPL, Interval.D1, [bar(utc(2024, 1, 2, 14, 30))])
    await write(sessions, BTC, Interval.D1, [bar(utc(2024, 1, 2))])
    first = await tokens()
    assert set(first) == {AAPL, BTC}
    await write(sessions, AAPL, Interval.D1, [bar(utc(2024, 1, 3, 14, 30))])
    await write(sessions, BTC, Interval.H1, [bar(utc(2024, 1, 2, 5))])  # not the daily series
    second = await tokens()
    assert second[AAPL] != first[AAPL]
    assert second[BTC] == first[BTC]
    # A write that rolls back leaves the token as it was.
    async with sessions() as session:
        await storage.upsert_bars(
            session, AAPL, Interval.D1, [bar(utc(2024, 1, 4, 14, 30))], provider="sim"
        )
        await session.rollback()
    assert await tokens() == second
