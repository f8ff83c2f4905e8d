"""Jobs enqueued in a transaction are kept in it (`flint.handoffs`) until the broker has them:
a committed job is sent and owed no more, a rolled-back one was never owed, and one whose
hand-off never happened (its process died right after the commit) is handed off again by the
relay, which a worker runs as it connects to the broker. The system test of the broker and the
worker going away is tests/system/test_broker_down.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint import jobs
from flint.config import Settings
from flint.db import commit
from flint.handoffs import JobHandoff
from flint.notifications.models import OutboxMessage
from flint.notifications.service import notify
from tests.conftest import Account
from tests.trades.conftest import worker_running

HARMLESS = jobs.RELAY
"""A real task that is safe to send from any test: a relay finds nothing owed, or sends it."""


def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker


async def owed(app: FastAPI) -> list[tuple[str, list[str]]]:
    async with sessions(app)() as session:
        rows = await session.execute(
            select(JobHandoff.name, JobHandoff.args).order_by(JobHandoff.created_at)
        )
        return [(name, list(args)) for name, args in rows]


async def age(app: FastAPI, seconds: float) -> None:
    """Make every owed job ``seconds`` older (as if enqueued that long ago)."""
    async with sessions(app)() as session:
        for job in (await session.scalars(select(JobHandoff))).all():
            job.created_at -= timedelta(seconds=seconds)
        await session.commit()


async def sent_within(app: FastAPI, user_id: uuid.UUID, seconds: float) -> None:
    started = time.monotonic()
    statuses = select(OutboxMessage.status).where(OutboxMessage.user_id == user_id)
    async with sessions(app)() as session:
        while (await session.scalars(statuses)).all() != ["sent"]:
            if time.monotonic() - started > seconds:
                pytest.fail(f"the email was not sent within {seconds:g} s of the worker starting")
            await session.rollback()
            await asyncio.sleep(0.1)


async def test_a_job_is_owed_in_its_transaction_and_no_longer_once_the_broker_has_it(
    app: FastAPI,
) -> None:
    async with sessions(app)() as session:
        jobs.enqueue(session, HARMLESS)
        jobs.enqueue(session, HARMLESS)
        await session.flush()
        assert await session.scalar(select(func.count()).select_from(JobHandoff)) == 2
        await commit(session)

    assert await owed(app) == []


async def test_a_rolled_back_job_is_never_owed(app: FastAPI) -> None:
    async with sessions(app)() as session:
        jobs.enqueue(session, HARMLESS, "rolled back")
        await session.flush()
        await session.rollback()
        jobs.enqueue(session, HARMLESS, "kept")  # the session goes on: a new transaction
        await commit(session)

    assert await owed(app) == []


async def test_the_relay_sends_what_is_owed_past_the_moment_and_leaves_the_rest(
    app: FastAPI,
) -> None:
    async with sessions(app)() as session:
        jobs.enqueue(session, HARMLESS, "old")
        await session.commit()  # no hand-off: the process died here
    await age(app, 60)
    async with sessions(app)() as session:
        jobs.enqueue(session, HARMLESS, "young")
        await session.commit()

    async with sessions(app)() as session:
        assert await jobs.relay(session) == 1

    assert await owed(app) == [(HARMLESS, ["young"])]


async def test_an_email_whose_hand_off_died_with_its_process_goes_out_as_a_worker_connects(
    app: FastAPI, settings: Settings, alice: Account
) -> None:
    async with sessions(app)() as session:
        notification = await notify(
            session,
            user_id=uuid.UUID(alice.user_id),
            kind="trade",
            title="Filled: bought 2 AAPL",
            body="Your order filled.",
        )
        assert notification is not None
        await session.commit()  # the process died before its after-commit hand-off
    assert [name for name, _ in await owed(app)] == ["flint.notifications.deliver"]
    await age(app, jobs.RELAY_AFTER.total_seconds())  # the worker took that long to come back

    # Started and stopped off the event loop, as the `worker` fixture is (its runtime's loop
    # runs the tasks in the worker's thread).
    with contextlib.ExitStack() as running:
        await asyncio.to_thread(running.enter_context, worker_running(settings))
        try:
            await sent_within(app, uuid.UUID(alice.user_id), 15)
        finally:
            await asyncio.to_thread(running.close)

    assert await owed(app) == []
    (sent,) = (settings.data_dir / "outbox").glob("*.eml")
    assert "Your order filled." in sent.read_text()
