"""One Alembic history builds the schema the models describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import sqlite3
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from flint.alerts.models import Alert
from flint.app.cli import _alembic_config
from flint.app.models import Base
from flint.auth.models import RefreshToken, SignIn
from flint.db import create_engine
from flint.notifications.models import NotificationPreference
from flint.portfolio.models import Portfolio, PortfolioTransaction
from flint.users.models import User
from flint.watchlist.models import WatchlistItem
from tests.conftest import migrate

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def _inspect(url: str, fn: Any) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLite cannot reflect expression indexes
        return compare_metadata(context, Base.metadata)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    assert await _inspect(database_url, _diff) == []


async def test_migrations_downgrade_to_empty_and_upgrade_again(database_url: str) -> None:
    config: Any = _alembic_config()
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))

    def run(target: str, up: bool) -> None:
        (command.upgrade if up else command.downgrade)(config, target)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(run, "base", False).result()
        assert await _inspect(database_url, _tables) == {"alembic_version"}
        pool.submit(run, "head", True).result()

    assert await _inspect(database_url, _tables) == {
        "alembic_version",
        *(table.name for table in Base.metadata.sorted_tables),
    }


def _in_wal_mode(path: Path) -> bool:
    return path.read_bytes()[18:20] == b"\x02\x02"  # the header's file format write/read versions


async def test_a_sqlite_file_is_in_wal_mode_before_the_first_connection(tmp_path: Path) -> None:
    # A file in rollback-journal mode (as migrations used to leave it): the first connections
    # each switched it to WAL, which takes the exclusive lock, and a connection already inside
    # a read kept the others from it ("database is locked", a sign-up answered 503).
    path = tmp_path / "flint.db"
    with closing(sqlite3.connect(path)) as made:
        made.execute("CREATE TABLE t (x INTEGER)")
        made.commit()
    assert not _in_wal_mode(path)

    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        assert _in_wal_mode(path)
        with closing(sqlite3.connect(path, isolation_level=None)) as reader:
            reader.execute("BEGIN")
            assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
            async with engine.begin() as conn:  # writes while the other reads, waiting for none
                await conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            reader.execute("COMMIT")
    finally:
        await engine.dispose()


def test_migrations_leave_a_sqlite_file_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "migrated.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    assert _in_wal_mode(path)


def _source_index(connection: Connection) -> tuple[str, str]:
    """The index that keeps one mirrored row per source id: its definition, and the answer to
    rows of one portfolio without a source id, then twice the same source id."""
    if connection.dialect.name == "sqlite":
        sql = "SELECT sql FROM sqlite_master WHERE name = 'uq_portfolio_transactions_source'"
    else:
        sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_portfolio_transactions_source'"
    definition = str(connection.exec_driver_sql(sql).scalar_one())
    session = Session(bind=connection)
    user = User(email="source@example.com", hashed_password="-")
    session.add(user)
    session.flush()
    portfolio = Portfolio(user_id=user.id, name="P")
    session.add(portfolio)
    session.flush()

    def row(source: str | None) -> PortfolioTransaction:
        return PortfolioTransaction(
            portfolio_id=portfolio.id,
            seq=0,
            date=NOW.date(),
            type="deposit",
            amount=Decimal(1),
            source_transaction_id=source,
        )

    session.add_all([row(None), row(None), row("account/1")])
    session.flush()
    try:
        with session.begin_nested():
            session.add(row("account/1"))
    except IntegrityError:
        return definition, "refused"
    return definition, "accepted"


async def test_a_source_id_is_unique_per_portfolio_and_rows_without_one_stay_out_of_its_index(
    database_url: str,
) -> None:
    """A 100,000-row import wrote 100,000 NULL entries into this unique index; rows without a
    source id are left out now, and a second mirrored row with the same id is still refused."""
    definition, second = await _inspect(database_url, _source_index)

    assert "WHERE" in definition.upper()
    assert "source_transaction_id IS NOT NULL" in definition.replace("(", "").replace(")", "")
    assert second == "refused"


def _spelled_both_ways(connection: Connection) -> dict[str, Any]:
    """Rows kept before revision 0026 under both spellings of listed symbols (``BRK.B`` and
    the market's ``BRK-B``), and one symbol with a point that is no other's spelling."""
    session = Session(bind=connection)
    first, second = (User(email=f"{n}@example.com", hashed_password="-") for n in "ab")
    session.add_all([first, second])
    session.flush()
    portfolio = Portfolio(user_id=first.id, name="P")
    session.add(portfolio)
    session.flush()
    for seq, symbol in enumerate(["BRK.B", "BRK-B", "XYZ.W"]):
        session.add(
            PortfolioTransaction(
                portfolio_id=portfolio.id,
                seq=seq,
                date=NOW.date(),
                type="buy",
                symbol=symbol,
                quantity=Decimal(2 + seq),
                price=Decimal(500),
                fee=Decimal(0),
                currency="USD",
            )
        )
    later = NOW + timedelta(minutes=1)
    items = {
        "first's older BRK.B": WatchlistItem(user_id=first.id, symbol="BRK.B", added_at=NOW),
        "first's newer BRK-B": WatchlistItem(user_id=first.id, symbol="BRK-B", added_at=later),
        "second's older BRK-B": WatchlistItem(user_id=second.id, symbol="BRK-B", added_at=NOW),
        "second's newer BRK.B": WatchlistItem(user_id=second.id, symbol="BRK.B", added_at=later),
        "second's BF.B": WatchlistItem(user_id=second.id, symbol="BF.B", added_at=NOW),
    }
    session.add_all(items.values())
    session.add(
        Alert(
            user_id=first.id,
            symbol="BRK.B",
            condition="above",
            threshold=Decimal(600),
            state="armed",
        )
    )
    session.flush()
    return {"users": (first.id, second.id), "items": {k: v.id for k, v in items.items()}}


def _symbols_kept(connection: Connection) -> dict[str, Any]:
    def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in connection.exec_driver_sql(sql)]

    return {
        "ledger": rows("SELECT symbol FROM portfolio_transactions ORDER BY seq"),
        "watchlist": rows("SELECT id, user_id, symbol FROM watchlist_items"),
        "alerts": rows("SELECT symbol FROM alerts"),
    }


async def _upgraded_from(url: str, revision: str, write: Any) -> Any:
    """The database at ``url`` taken down to ``revision``, ``write`` run on it (committed),
    and migrated up again; what ``write`` answered."""
    config: Any = _alembic_config()
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    with ThreadPoolExecutor(1) as pool:
        pool.submit(command.downgrade, config, revision).result()
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                written = await conn.run_sync(write)
        finally:
            await engine.dispose()
        pool.submit(command.upgrade, config, "head").result()
    return written


async def test_rows_kept_under_another_spelling_of_a_listed_symbol_take_the_markets(
    database_url: str,
) -> None:
    """``BRK.B`` and ``BRK-B`` were two positions in one ledger and two items on a watchlist;
    revision 0026 renames the rows kept before to the market's name, keeping a watchlist's
    older item of the two."""
    made = await _upgraded_from(database_url, "0025", _spelled_both_ways)

    kept = await _inspect(database_url, _symbols_kept)

    assert kept["ledger"] == [("BRK-B",), ("BRK-B",), ("XYZ.W",)]
    assert kept["alerts"] == [("BRK-B",)]
    first, second = made["users"]
    items = made["items"]
    hexes = {(str(i).replace("-", ""), str(u).replace("-", ""), s) for i, u, s in kept["watchlist"]}
    assert hexes == {
        (items["first's older BRK.B"].hex, first.hex, "BRK-B"),
        (items["second's older BRK-B"].hex, second.hex, "BRK-B"),
        (items["second's BF.B"].hex, second.hex, "BF-B"),
    }


def _profiles_before_0027(connection: Connection) -> dict[str, uuid.UUID]:
    """Users as revision 0026 left them: the profile's switches on the user's row, and for one
    a per-kind choice of SMS with a number."""
    session = Session(bind=connection)
    people = {
        "email off": {"theme": "dark", "notifications": {"email": False, "sms": False}},
        "email off, texts trades": {"theme": "system", "notifications": {"email": False}},
        "as by default": {"theme": "light", "notifications": {"email": True, "sms": True}},
    }
    made = {}
    for name, preferences in people.items():
        user = User(email=f"{len(made)}@example.com", hashed_password="-", preferences=preferences)
        session.add(user)
        session.flush()
        made[name] = user.id
    session.add(
        NotificationPreference(
            user_id=made["email off, texts trades"],
            channels={"trade": ["email", "sms"], "report": []},
            phone_number="+14155552671",
        )
    )
    session.flush()
    return made


def _profiles_kept(connection: Connection) -> dict[str, Any]:
    session = Session(bind=connection)
    users = {user.id: user.preferences for user in session.scalars(select(User))}
    choices = {
        row.user_id: (row.channels, row.phone_number)
        for row in session.scalars(select(NotificationPreference))
    }
    return {"users": users, "choices": choices}


async def test_a_profile_that_turned_email_off_keeps_it_off_for_every_kind(
    database_url: str,
) -> None:
    """Revision 0027: ``email: false`` on the profile was kept and never read (mail went on);
    it is carried over to every kind's choice, the rest of a choice kept, and the profile's
    old copy dropped."""
    made = await _upgraded_from(database_url, "0026", _profiles_before_0027)

    kept = await _inspect(database_url, _profiles_kept)

    assert kept["users"] == {
        made["email off"]: {"theme": "dark"},
        made["email off, texts trades"]: {"theme": "system"},
        made["as by default"]: {"theme": "light"},
    }
    none = {kind: [] for kind in ("trade", "report", "price_alert", "account", "billing")}
    assert kept["choices"] == {
        made["email off"]: (none, None),
        made["email off, texts trades"]: ({**none, "trade": ["sms"]}, "+14155552671"),
    }


def _sign_ins_before_0029(connection: Connection) -> dict[str, Any]:
    """A sign-in refreshed once (two tokens of one family) and another one, before revision
    0029 kept sign-ins."""
    session = Session(bind=connection)
    user = User(email="devices@example.com", hashed_password="-")
    session.add(user)
    session.flush()
    laptop, phone = uuid.uuid4(), uuid.uuid4()
    later = NOW + timedelta(hours=2)
    for family, created in ((laptop, NOW), (laptop, later), (phone, NOW + timedelta(hours=1))):
        session.add(
            RefreshToken(
                user_id=user.id,
                family_id=family,
                token_hash=uuid.uuid4().hex * 2,
                created_at=created,
                expires_at=created + timedelta(days=30),
            )
        )
    session.flush()
    return {"user": user.id, "laptop": laptop, "phone": phone, "later": later}


def _sign_ins_kept(connection: Connection) -> dict[Any, tuple[Any, ...]]:
    rows = Session(bind=connection).execute(select(SignIn)).scalars()
    return {
        row.id: (row.user_id, row.created_at, row.last_active_at, row.method, row.user_agent)
        for row in rows
    }


async def test_the_sign_ins_alive_before_0029_are_listed_after_it(database_url: str) -> None:
    """Revision 0029: every refresh-token family gets its sign-in, begun at its first token and
    last used at its newest; how and from what device are not known."""
    made = await _upgraded_from(database_url, "0028", _sign_ins_before_0029)

    kept = await _inspect(database_url, _sign_ins_kept)

    phone = NOW + timedelta(hours=1)

    def at(moment: datetime) -> datetime:  # SQLite gives back naive UTC
        return moment if kept[made["laptop"]][1].tzinfo else moment.replace(tzinfo=None)

    assert kept == {
        made["laptop"]: (made["user"], at(NOW), at(made["later"]), None, None),
        made["phone"]: (made["user"], at(phone), at(phone), None, None),
    }


def _payload_storage(connection: Connection) -> str:
    sql = (
        "SELECT attstorage FROM pg_attribute WHERE attname = 'payload' "
        "AND attrelid = 'portfolio_import_jobs'::regclass"
    )
    storage = connection.exec_driver_sql(sql).scalar_one()  # a "char": bytes
    return bytes(storage).decode()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_background_imports_file_is_kept_uncompressed_on_postgresql(
    database_url: str,
) -> None:
    """Written once, read once, dropped when done: pglz held a server core 65 ms for a 3.4 MB
    file while the API took it in (13 ms uncompressed). 'e' is EXTERNAL (out of line, never
    compressed); the default, 'x', compresses."""
    assert await _inspect(database_url, _payload_storage) == "e"
