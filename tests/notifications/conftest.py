"""Fixtures of the notification tests: database access behind the API's back, a local Twilio,
a real Celery worker (solo pool, in-memory broker, the test's own settings) and helpers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from celery.contrib.testing.worker import start_worker
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from flint.config import Settings
from flint.db import commit
from flint.notifications.models import Notification, OutboxMessage
from flint.notifications.service import notify
from flint.worker import celery_app, runtime
from tests.conftest import Account
from tests.stubs import twilio
from tests.stubs.fixtures import control, stub
from tests.stubs.server import RunningStub

__all__ = ["control", "stub"]

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
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessionmaker
    return maker


@pytest.fixture
def worker(settings: Settings) -> Iterator[None]:
    runtime.configure(settings)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        runtime.configure(None)


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
