"""Fixtures of the notification tests: database access behind the API's back, a local Twilio,
a real Celery worker (the trades tests' own: solo pool, in-memory broker, the test's settings)
and helpers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from flint.db import commit
from flint.notifications.models import Notification, OutboxMessage
from flint.notifications.service import notify
from tests.conftest import Account
from tests.stubs import twilio
from tests.stubs.fixtures import control, stub
from tests.stubs.server import RunningStub
from tests.trades.conftest import worker

__all__ = ["control", "stub", "worker"]

PHONE = "+14155552671"


@pytest.fixture(scope="module")
def served_app() -> Starlette:
    return twilio.create_app()


def twilio_settings(stub: RunningStub) -> dict[str, Any]:
    return {
        "twilio_account_sid": twilio.ACCOUNT_SID,
        "twilio_auth_token": twilio.AUTH_TOKEN,
        "twilio_from_number": twilio.FROM_NUMBER,
        "twilio_base_url": stub.url,
    }


@pytest.fixture
def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker


async def send(
    sessions: async_sessionmaker[AsyncSession], who: Account, kind: str, **fields: Any
) -> Notification:
    """``notify`` in a transaction of its own, committed (so the outbox is dispatched)."""
    async with sessions() as session:
        notification = await notify(
            session,
            user_id=uuid.UUID(who.user_id),
            kind=kind,
            title=fields.pop("title", f"A {kind} notice"),
            body=fields.pop("body", f"What happened, for {kind}."),
            **fields,
        )
        await commit(session)
        assert notification is not None
        return notification


async def outbox(
    sessions: async_sessionmaker[AsyncSession], channel: str | None = None
) -> list[OutboxMessage]:
    async with sessions() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.channel)
        if channel is not None:
            stmt = stmt.where(OutboxMessage.channel == channel)
        return list((await session.execute(stmt)).scalars())


async def put_preferences(
    client: httpx.AsyncClient, who: Account, body: dict[str, Any]
) -> httpx.Response:
    return await client.put("/api/v1/notifications/preferences", json=body, headers=who.headers)


async def sms_only(client: httpx.AsyncClient, who: Account, kind: str) -> None:
    """``kind`` goes by SMS (to :data:`PHONE`) and not by email."""
    chosen = await put_preferences(
        client, who, {"phoneNumber": PHONE, "channels": {kind: {"email": False, "sms": True}}}
    )
    assert chosen.status_code == 200, chosen.text


async def eventually(check: Callable[[], Any], what: str, within: float = 20.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; that value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            pytest.fail(f"{what} within {within:g} s")
        await asyncio.sleep(0.05)
