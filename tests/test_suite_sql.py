"""The tests' shared compiled SQL (tests/shared_sql.py): engines of the same settings compile a
statement once between them; an engine of other settings compiles it for itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapper

from flint.app.models import Base
from flint.db import create_engine as flint_engine
from tests.shared_sql import ENGINES, SharedCompiled, signature

ROWS = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("name", String))


def cache_outcomes(engine: Engine) -> list[tuple[str, str]]:
    """What SQLAlchemy said of each statement ``engine`` ran (found compiled, or compiled), and
    the statement's text."""
    seen: list[tuple[str, str]] = []

    @event.listens_for(engine, "after_cursor_execute")
    def _note(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, _many: bool) -> None:
        if context.compiled is not None:
            hit = context.cache_hit == engine.dialect.CACHE_HIT
            seen.append(("hit" if hit else "compiled", sql))

    return seen


def run_statements(engine: Engine, name: str) -> list[tuple[str, str]]:
    """Create the table, add a row and read it back through ``engine``: what SQLAlchemy said of
    the insert and the select, and their text."""
    seen = cache_outcomes(engine)
    ROWS.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(ROWS).values(name=name))
        assert conn.execute(select(ROWS.c.name).where(ROWS.c.name == name)).scalar_one() == name
    return seen[-2:]


def test_a_second_engine_of_the_same_settings_compiles_nothing_the_first_did(
    tmp_path: Path,
) -> None:
    first = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    second = create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    assert first.dialect is not second.dialect
    run_statements(first, "first")
    assert [outcome for outcome, _ in run_statements(second, "second")] == ["hit", "hit"]
    assert first._compiled_cache is ENGINES
    assert second._compiled_cache is ENGINES


def test_an_engine_of_other_settings_compiles_for_itself_and_its_statements_work(
    tmp_path: Path,
) -> None:
    qmark = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    named = create_engine(f"sqlite:///{tmp_path / 'b.db'}", paramstyle="named")
    assert signature(qmark.dialect) != signature(named.dialect)
    assert all("?" in sql for _, sql in run_statements(qmark, "qmark"))
    # Shared by the class alone, the named engine would send the qmark engine's "?" text.
    ran = run_statements(named, "named")
    assert all(":" in sql and "?" not in sql for _, sql in ran), ran
    assert [outcome for outcome, _ in run_statements(named, "named again")] == ["hit", "hit"]


@pytest.mark.parametrize("option", [{"isolation_level": "AUTOCOMMIT"}, {"label_length": 20}])
def test_every_setting_a_dialect_holds_names_it(option: dict[str, Any]) -> None:
    assert signature(create_engine("sqlite://").dialect) == signature(
        create_engine("sqlite://").dialect
    )
    assert signature(create_engine("sqlite://").dialect) != signature(
        create_engine("sqlite://", **option).dialect
    )


async def test_flints_engines_and_mappers_share_theirs(tmp_path: Path) -> None:
    engines = [flint_engine(f"sqlite+aiosqlite:///{tmp_path / name}") for name in ("a", "b")]
    try:
        for engine in engines:
            async with engine.connect() as conn:
                await conn.execute(select(1))
            assert engine.sync_engine._compiled_cache is ENGINES
    finally:
        for engine in engines:
            await engine.dispose()
    mappers: list[Mapper[Any]] = list(Base.registry.mappers)
    assert all(isinstance(m.__dict__.get("_compiled_cache"), SharedCompiled) for m in mappers)
