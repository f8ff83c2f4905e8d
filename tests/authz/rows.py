"""A user's rows, every table of them: to show a request changed none of them."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from sqlalchemy import or_, select

from flint.app.models import Base

Rows = dict[str, list[str]]
REFERENCED: dict[str, set[str]] = {}
"""The columns foreign keys point at, by table."""
for _key in (key for table in Base.metadata.sorted_tables for key in table.foreign_keys):
    REFERENCED.setdefault(_key.column.table.name, set()).add(_key.column.name)


async def rows_of(app: FastAPI, user_id: str) -> Rows:
    """Every row the user owns, by table: the user's own, and those a foreign key leads from
    to one of the user's rows (a portfolio's transactions, a trade's events, ...), whatever
    the table (a table added later is covered). Tables no foreign key ties to a user (the
    market's) are left out."""
    owned: dict[tuple[str, str], set[Any]] = {("users", "id"): {uuid.UUID(user_id)}}
    found: Rows = {}
    async with app.state.runtime.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:  # a referenced table before its referrers
            links = [(table.c.id, ("users", "id"))] if table.name == "users" else []
            links += [
                (key.parent, (key.column.table.name, key.column.name)) for key in table.foreign_keys
            ]
            if not links:
                continue
            reached = [column.in_(owned[target]) for column, target in links if owned.get(target)]
            query = select(table).where(or_(*reached))
            mine = (await conn.execute(query)).all() if reached else []
            for column in REFERENCED.get(table.name, ()):
                owned[(table.name, column)] = {row._mapping[column] for row in mine}
            found[table.name] = sorted(map(repr, mine))
    return found
