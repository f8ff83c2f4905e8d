"""A burst of sync requests for one link (a fill per trade, a webhook per change) sends one
sync while none is waiting to begin; a request once it has begun sends another (it may have
read the institution before the request's change), and so does one after a sync sent long
ago was lost. Trades filled in a burst still end in the account's holdings."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from flint.accounts import service, sync_requests
from flint.accounts.models import LinkedAccount, LinkSyncRequest
from flint.handoffs import JobHandoff
from flint.kit.time import utcnow
from tests.accounts.test_accounts_api import linked_brokerage
from tests.conftest import Account, until_final
from tests.trades.conftest import link_sandbox, worker

__all__ = ["worker"]  # the fixture


async def sends(app: FastAPI, link_id: uuid.UUID) -> int:
    """The syncs of the link sent (kept as owed: these transactions commit without handing
    them to the broker)."""
    async with app.state.runtime.sessions() as session:
        owed = await session.scalars(
            select(JobHandoff.args).where(JobHandoff.name == sync_requests.SYNC_LINK)
        )
        return sum(1 for args in owed if args == [str(link_id)])


async def request(app: FastAPI, account: LinkedAccount) -> None:
    async with app.state.runtime.sessions() as session:
        await service.request_sync(session, account)
        await session.commit()  # not flint.db.commit: the sync stays owed, to be counted


async def test_requests_while_a_sync_waits_send_nothing_more(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account = (await linked_brokerage(app, client, alice)).account
    link = account.link_id
    before = await sends(app, link)
    for _ in range(5):
        await request(app, account)
    assert await sends(app, link) == before + 1

    async with app.state.runtime.sessions() as session:  # the worker begins that sync
        await sync_requests.sync_begun(session, link)
        await session.commit()
    await request(app, account)  # a fill after it began: the running sync may miss it
    await request(app, account)
    assert await sends(app, link) == before + 2

    async with app.state.runtime.sessions() as session:  # that sync's message was lost
        aged = utcnow() - sync_requests.QUEUED_FOR - timedelta(seconds=1)
        await session.execute(update(LinkSyncRequest).values(queued_at=aged))
        await session.commit()
    await request(app, account)
    assert await sends(app, link) == before + 3


async def test_concurrent_requests_send_one_sync(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account = (await linked_brokerage(app, client, alice)).account
    before = await sends(app, account.link_id)
    await asyncio.gather(*(request(app, account) for _ in range(6)))
    assert await sends(app, account.link_id) == before + 1


@pytest.mark.usefixtures("worker")
async def test_trades_filled_in_a_burst_all_reach_the_holdings(
    client: httpx.AsyncClient, alice: Account
) -> None:
    linked = await link_sandbox(client, alice)
    brokerage = next(a for a in linked["accounts"] if a["type"] == "brokerage")
    account_id = brokerage["accountId"]
    held_before = await nvda(client, alice, account_id)
    placed = [
        await client.post(
            "/api/v1/trades/execute",
            json={"accountId": account_id, "asset": "NVDA", "action": "buy", "quantity": "1"},
            headers=alice.headers,
        )
        for _ in range(5)
    ]
    for response in placed:
        assert response.status_code in (200, 201, 202), response.text
        trade = response.json()["tradeId"]
        done = await until_final(
            client, f"/api/v1/trades/{trade}", alice.headers, ("filled", "rejected", "failed")
        )
        assert done["status"] == "filled", done

    for _ in range(300):  # the last sync after the last fill shows all five
        if await nvda(client, alice, account_id) == held_before + 5:
            break
        await asyncio.sleep(0.1)
    assert await nvda(client, alice, account_id) == held_before + 5


async def nvda(client: httpx.AsyncClient, who: Account, account_id: str) -> Decimal:
    shown = await client.get(f"/api/v1/accounts/{account_id}", headers=who.headers)
    held = {h["symbol"]: Decimal(str(h["quantity"])) for h in shown.json()["holdings"]}
    return held.get("NVDA", Decimal(0))
