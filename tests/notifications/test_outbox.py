"""The outbox: a message is a row first, delivered by file or SMTP, once, and only after commit."""

from __future__ import annotations

import asyncio
import email
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.config import Settings
from flint.db import after_commit, commit
from flint.kit.time import utcnow
from flint.notifications import service
from flint.notifications.email import DeliveryError
from flint.notifications.models import OutboxMessage


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker


async def queued(app: FastAPI, to: str = "ada@example.com") -> uuid.UUID:
    async with sessions(app)() as session:
        message = await service.queue_email(
            session, user_id=None, to=to, subject="Hello", body="Body text", kind="test"
        )
        await session.commit()
        return message.id


async def stored(app: FastAPI, message_id: uuid.UUID) -> OutboxMessage:
    async with sessions(app)() as session:
        message = await session.get(OutboxMessage, message_id)
        assert message is not None
        return message


async def deliver(app: FastAPI, settings: Settings, message_id: uuid.UUID) -> str:
    async with sessions(app)() as session:
        try:
            return await service.deliver(session, settings, message_id)
        finally:
            await session.commit()


async def test_without_smtp_a_delivered_email_is_an_eml_file_in_the_data_dir(
    app: FastAPI, settings: Settings
) -> None:
    message_id = await queued(app, to="ada@example.com")

    assert await deliver(app, settings, message_id) == "sent"

    files = list((settings.data_dir / "outbox").glob("*.eml"))
    assert len(files) == 1
    parsed = email.message_from_bytes(files[0].read_bytes())
    assert parsed["To"] == "ada@example.com"
    assert parsed["Subject"] == "Hello"
    assert parsed.get_payload(decode=True).decode().strip() == "Body text"  # type: ignore[union-attr]
    row = await stored(app, message_id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.sent_at is not None


@pytest.mark.parametrize("settings_overrides", [{"smtp_security": "none"}])
async def test_with_smtp_configured_the_email_reaches_the_smtp_server(
    app: FastAPI, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})
    message_id = await queued(app, to="grace@example.com")

    assert await deliver(app, smtp, message_id) == "sent"

    assert len(inbox.messages) == 1
    assert inbox.messages[0]["To"] == "grace@example.com"
    assert inbox.messages[0]["From"] == settings.email_from
    assert not (settings.data_dir / "outbox").exists()


async def test_delivering_twice_sends_once(
    app: FastAPI, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    smtp = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"}
    )
    message_id = await queued(app)

    results = [await deliver(app, smtp, message_id), await deliver(app, smtp, message_id)]

    assert results == ["sent", "sent"]
    assert len(inbox.messages) == 1
    assert (await stored(app, message_id)).attempts == 1


async def test_an_unreachable_smtp_server_keeps_the_message_pending_with_the_error(
    app: FastAPI, settings: Settings
) -> None:
    down = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_timeout_seconds": 2.0}
    )
    message_id = await queued(app)

    with pytest.raises(DeliveryError):
        await deliver(app, down, message_id)

    row = await stored(app, message_id)
    assert row.status == "pending"
    assert row.attempts == 1
    assert row.last_error is not None
    assert "SMTP delivery failed" in row.last_error


async def test_a_message_that_keeps_failing_is_marked_failed_after_the_last_attempt(
    app: FastAPI, settings: Settings
) -> None:
    down = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_timeout_seconds": 2.0}
    )
    message_id = await queued(app)
    async with sessions(app)() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(attempts=service.MAX_ATTEMPTS - 1)
        )
        await session.commit()

    assert await deliver(app, down, message_id) == "failed"
    assert (await stored(app, message_id)).status == "failed"


async def test_after_commit_work_runs_only_when_the_transaction_commits(app: FastAPI) -> None:
    ran: list[str] = []
    async with sessions(app)() as session:
        after_commit(session, lambda: ran.append("rolled back"))
        session.add(
            OutboxMessage(channel="email", kind="t", recipient="a@b.c", subject="s", body="b")
        )
        await session.flush()
        await session.rollback()
    async with sessions(app)() as session:
        after_commit(session, lambda: ran.append("committed"))
        session.add(
            OutboxMessage(channel="email", kind="t", recipient="a@b.c", subject="s", body="b")
        )
        await commit(session)

    assert ran == ["committed"]
    async with sessions(app)() as session:
        rows = (await session.execute(select(OutboxMessage.recipient))).scalars().all()
    assert rows == ["a@b.c"]


async def test_a_failing_after_commit_callback_does_not_undo_the_commit(app: FastAPI) -> None:
    async def broken() -> None:
        raise RuntimeError("broker down")

    async with sessions(app)() as session:
        after_commit(session, broken)
        session.add(
            OutboxMessage(channel="email", kind="t", recipient="x@y.z", subject="s", body="b")
        )
        await commit(session)

    async with sessions(app)() as session:
        count = len((await session.execute(select(OutboxMessage.id))).scalars().all())
    assert count == 1


async def test_stale_pending_lists_only_old_undelivered_messages(
    app: FastAPI, settings: Settings
) -> None:
    old_pending = await queued(app)
    old_sent = await queued(app)
    fresh = await queued(app)
    await deliver(app, settings, old_sent)
    async with sessions(app)() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([old_pending, old_sent]))
            .values(created_at=utcnow() - timedelta(minutes=10))
        )
        await session.commit()

    async with sessions(app)() as session:
        stale = await service.stale_pending(session, timedelta(minutes=2))

    assert stale == [old_pending]
    assert fresh not in stale


async def test_concurrent_deliveries_of_one_message_send_it_once(
    app: FastAPI, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    """Workers picking up the same message (a redelivery) must not both send it: the row is
    locked (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) while it is sent."""
    inbox, port = smtp_server
    smtp = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"}
    )
    message_id = await queued(app)

    await asyncio.gather(*(deliver(app, smtp, message_id) for _ in range(4)))

    assert len(inbox.messages) == 1
