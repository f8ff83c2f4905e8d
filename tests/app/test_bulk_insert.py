"""`flint.bulk.bulk_insert`: PostgreSQL's COPY and the Core executemany elsewhere store what an
ORM insert stores, values through their column type's rules (a price rounded to 18 places, a
price that is not finite refused), in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from flint.bulk import LARGE, LARGE_CACHE, bulk_insert, new_ids
from flint.db import table_of
from flint.kit.time import utcnow
from flint.portfolio.models import PortfolioTransaction
from tests.conftest import Account


async def _portfolio(client: httpx.AsyncClient, who: Account) -> uuid.UUID:
    created = await client.post(
        "/api/v1/portfolio/", json={"name": "Bulk", "baseCurrency": "USD"}, headers=who.headers
    )
    assert created.status_code == 201, created.text
    return uuid.UUID(created.json()["portfolioId"])


def _row(portfolio_id: uuid.UUID, seq: int, quantity: Decimal | None) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "portfolio_id": portfolio_id,
        "seq": seq,
        "date": date(2024, 1, 2),
        "type": "buy",
        "symbol": "AAPL",
        "quantity": quantity,
        "price": Decimal("185.50"),
        "fee": Decimal(0),
        "amount": None,
        "currency": "USD",
        "created_at": utcnow(),
    }


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


async def _kept(app: FastAPI, portfolio_id: uuid.UUID) -> list[uuid.UUID]:
    """The ids of the portfolio's stored transactions."""
    async with app.state.runtime.sessions() as session:
        ids = await session.scalars(
            select(PortfolioTransaction.id).where(PortfolioTransaction.portfolio_id == portfolio_id)
        )
        return list(ids)


async def test_rows_are_stored_through_their_column_types(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await _portfolio(client, alice)
    quantities = [Decimal("1.1234567890123456789"), Decimal("10"), None]
    rows = [_row(portfolio_id, seq, q) for seq, q in enumerate(quantities)]
    async with app.state.runtime.sessions() as session:
        await bulk_insert(session, table_of(PortfolioTransaction), _columns(rows))
        await session.commit()
    async with app.state.runtime.sessions() as session:
        stored = (
            await session.scalars(
                select(PortfolioTransaction)
                .where(PortfolioTransaction.portfolio_id == portfolio_id)
                .order_by(PortfolioTransaction.seq)
            )
        ).all()
    assert [e.id for e in stored] == [r["id"] for r in rows]
    assert [e.quantity for e in stored] == [Decimal("1.123456789012345679"), Decimal(10), None]
    assert {e.price for e in stored} == {Decimal("185.5")}
    assert [e.created_at for e in stored] == [r["created_at"] for r in rows]


async def test_a_value_its_column_refuses_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await _portfolio(client, alice)
    rows = [_row(portfolio_id, 0, Decimal(1)), _row(portfolio_id, 1, Decimal("Infinity"))]
    async with app.state.runtime.sessions() as session:
        with pytest.raises(Exception, match="finite"):
            await bulk_insert(session, table_of(PortfolioTransaction), _columns(rows))
        await session.rollback()
    assert await _kept(app, portfolio_id) == []


async def test_columns_of_different_lengths_are_refused(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await _portfolio(client, alice)
    columns = _columns([_row(portfolio_id, 0, Decimal(1)), _row(portfolio_id, 1, Decimal(2))])
    columns["seq"] = [0]
    async with app.state.runtime.sessions() as session:
        with pytest.raises(ValueError, match="differ in length"):
            await bulk_insert(session, table_of(PortfolioTransaction), columns)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_large_insert_leaves_sqlites_page_cache_as_it_was(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await _portfolio(client, alice)
    rows = [_row(portfolio_id, seq, Decimal(seq + 1)) for seq in range(LARGE)]
    async with app.state.runtime.sessions() as session:
        connection = await session.connection()
        size = (await connection.exec_driver_sql("PRAGMA cache_size")).scalar_one()
        await bulk_insert(session, table_of(PortfolioTransaction), _columns(rows))
        after = (await connection.exec_driver_sql("PRAGMA cache_size")).scalar_one()
        await session.commit()
    assert after == size != LARGE_CACHE


def test_new_ids_are_distinct_random_uuids_in_order() -> None:
    ids = new_ids(1000)
    assert ids == sorted(set(ids))
    assert {uid.version for uid in ids} == {4}
    assert {uid.variant for uid in ids} == {uuid.RFC_4122}
    assert new_ids(0) == []


async def test_a_bulk_insert_as_the_sessions_first_statement_is_rolled_back_with_it(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    """On PostgreSQL the COPY went to the driver's connection before SQLAlchemy had begun the
    session's transaction (it does so at the first statement), and was kept whatever came
    after: here, a rollback."""
    portfolio_id = await _portfolio(client, alice)
    rows = [_row(portfolio_id, seq, Decimal(seq + 1)) for seq in range(3)]
    async with app.state.runtime.sessions() as session:
        await bulk_insert(session, table_of(PortfolioTransaction), _columns(rows))
        await session.rollback()
    assert await _kept(app, portfolio_id) == []
