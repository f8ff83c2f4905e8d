"""Syncs of one link at the same time (a user pressing sync repeatedly, a webhook and the daily
sync, workers with several processes): each waits for the one before, so every sync succeeds
and the holdings end as the institution has them, once each. On PostgreSQL the link's row lock
serialises them (without it two syncs deleted the same holdings, then both inserted them: an
IntegrityError on ``pk_account_holdings``); SQLite's writers take the write lock at BEGIN."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from decimal import Decimal

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from flint.accounts import service
from flint.accounts.models import AccountHolding
from flint.brokerage.types import OrderAction, OrderRequest
from flint.db import commit
from tests.accounts.test_accounts_api import linked_brokerage
from tests.conftest import Account

SYNCS = 6


async def test_six_concurrent_syncs_of_one_link_all_succeed_and_keep_one_row_per_holding(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    brokerage = await linked_brokerage(app, client, alice)
    link_id, remote = brokerage.account.link_id, brokerage.account.provider_account_id
    # A position the last sync has not seen yet, so every sync rewrites the holdings.
    order = OrderRequest(
        account_id=remote,
        client_order_id=str(uuid.uuid4()),
        symbol="MSFT",
        action=OrderAction.BUY,
        quantity=Decimal("3"),
    )
    filled = await brokerage.sandbox.place_order({}, brokerage.credentials, order)
    assert filled.filled_quantity == 3

    async def sync() -> int:
        async with app.state.runtime.sessions() as session:
            synced = await service.sync_link(session, brokerage.ctx, link_id)
            await commit(session)
            return synced

    results = await asyncio.gather(*(sync() for _ in range(SYNCS)), return_exceptions=True)

    assert results == [3] * SYNCS  # every sync synced the link's three accounts, none failed
    expected = {
        held.symbol: held.quantity
        for held in await brokerage.sandbox.holdings({}, brokerage.credentials, remote)
    }
    assert expected["MSFT"] >= 3
    async with app.state.runtime.sessions() as session:
        rows = (
            await session.execute(
                select(AccountHolding.symbol, AccountHolding.quantity).where(
                    AccountHolding.account_id == brokerage.account.id
                )
            )
        ).all()
    assert not [symbol for symbol, count in Counter(s for s, _ in rows).items() if count > 1]
    assert dict(rows) == expected
    shown = (
        await client.get(f"/api/v1/accounts/{brokerage.account.id}", headers=alice.headers)
    ).json()
    assert {h["symbol"]: Decimal(str(h["quantity"])) for h in shown["holdings"]} == expected
