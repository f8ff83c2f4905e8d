"""The features that tell users things do it through `notify`: trade fills, password resets and
broken account connections appear in the app and go by the user's channels."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.accounts import service as accounts
from flint.accounts.api import Accounts
from flint.accounts.models import AccountLink
from flint.db import commit
from tests.auth.helpers import reset_token
from tests.conftest import Account
from tests.notifications.conftest import PHONE, outbox, put_preferences
from tests.trades.conftest import link_sandbox


async def notices(client: httpx.AsyncClient, who: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/notifications", headers=who.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["notifications"]
    return found


@pytest.mark.usefixtures("worker")
async def test_a_filled_trade_is_a_trade_notification_in_the_app_and_by_email(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]

    response = await client.post(
        "/api/v1/trades/execute",
        json={"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"},
        headers=alice.headers,
    )

    assert response.status_code == 201, response.text
    trade = response.json()
    [notice] = await notices(client, alice)
    assert notice["kind"] == "trade"
    assert notice["title"].startswith("Filled: bought 2 AAPL")
    assert notice["data"] == {"tradeId": trade["tradeId"], "symbol": "AAPL", "status": "filled"}
    [mail] = await outbox(sessions)
    assert (mail.channel, mail.kind, mail.subject) == ("email", "trade", notice["title"])


async def test_a_password_reset_emails_the_token_and_keeps_it_out_of_the_app_and_sms(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    every_kind_by_sms = {
        kind: {"email": False, "sms": True}
        for kind in ("trade", "report", "price_alert", "account")
    }
    chosen = await put_preferences(
        client, alice, {"phoneNumber": PHONE, "channels": every_kind_by_sms}
    )
    assert chosen.status_code == 200, chosen.text

    token = await reset_token(client, app, alice.email)

    [mail] = await outbox(sessions)
    assert (mail.channel, mail.kind, mail.recipient) == ("email", "security", alice.email)
    [notice] = await notices(client, alice)
    assert notice["kind"] == "security"
    assert notice["title"] == "Reset your Flint password"
    assert token not in notice["body"]
    assert token not in str(notice["data"])


async def break_at_the_institution(app: FastAPI, link_id: uuid.UUID) -> dict[str, Any]:
    """The sandbox institution forgets the link (as a bank does when access is revoked);
    returns the link's credentials, with which it can be linked again."""
    ctx = app.state.runtime.get(Accounts)
    async with app.state.runtime.sessions() as session:
        record = await session.get(AccountLink, link_id)
        assert record is not None
        assert record.sealed_credentials is not None
        credentials: dict[str, Any] = ctx.box.open(record.sealed_credentials)
    await ctx.providers.get("sandbox").unlink({}, credentials)
    return credentials


async def sync(app: FastAPI, link_id: uuid.UUID) -> str:
    """One sync of the link, as the task runs it; the link's status after it."""
    async with app.state.runtime.sessions() as session:
        await accounts.sync_link(session, app.state.runtime.get(Accounts), link_id)
        await commit(session)
        record = await session.get(AccountLink, link_id)
        assert record is not None
        return record.status


async def test_a_broken_connection_is_notified_once_per_breakage(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    await link_sandbox(client, alice, "demo")
    async with sessions() as session:
        link_id = (await session.execute(select(AccountLink.id))).scalar_one()
    credentials = await break_at_the_institution(app, link_id)

    assert [await sync(app, link_id) for _ in range(3)] == ["broken"] * 3

    [notice] = await notices(client, alice)
    assert notice["kind"] == "account"
    assert notice["data"]["linkId"] == str(link_id)
    assert notice["data"]["provider"] == "sandbox"
    listed = await client.get("/api/v1/accounts", headers=alice.headers)
    assert sorted(notice["data"]["accountIds"]) == sorted(
        a["accountId"] for a in listed.json()["accounts"]
    )
    assert "link them again" in notice["body"].lower()
    assert [m.kind for m in await outbox(sessions)] == ["account"]

    # The institution honours the link again: the next sync restores it, and a new
    # breakage is news again.
    await app.state.runtime.get(Accounts).providers.get("sandbox").link({}, credentials["code"])
    assert await sync(app, link_id) == "active"
    await break_at_the_institution(app, link_id)
    assert await sync(app, link_id) == "broken"

    assert [n["kind"] for n in await notices(client, alice)] == ["account", "account"]
