"""One Alembic history builds the schema the models describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from flint.app.cli import _alembic_config
from flint.app.models import Base
from flint.db import create_engine


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
