"""Delivery through a real Celery worker after the commit: email to a local SMTP server (aiosmtpd)
and SMS to the local Twilio, with the task's retries when the server is down or failing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.conftest import Account
from tests.notifications.conftest import (
    PHONE,
    eventually,
    outbox,
    send,
    sms_only,
    twilio_settings,
)
from tests.notifications.test_outbox import Inbox, free_port
from tests.stubs.server import RunningStub
from tests.stubs.twilio import TwilioControl

pytestmark = [pytest.mark.waits, pytest.mark.timeout(90)]


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings_overrides(smtp_port: int, stub: RunningStub) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_security": "none",
        "smtp_timeout_seconds": 2.0,
        **twilio_settings(stub),
    }


class SmtpServer:
    """An aiosmtpd server on a fixed port that a test starts when it wants it up."""

    def __init__(self, port: int) -> None:
        self.inbox = Inbox()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=port)
        self.running = False

    def start(self) -> None:
        self.controller.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.controller.stop()
            self.running = False


@pytest.fixture
def smtp(smtp_port: int) -> Iterator[SmtpServer]:
    server = SmtpServer(smtp_port)
    try:
        yield server
    finally:
        server.stop()


async def sent_rows(sessions: async_sessionmaker[AsyncSession]) -> list[Any]:
    rows = await outbox(sessions)
    return rows if rows and rows[0].status == "sent" else []


@pytest.mark.usefixtures("worker")
async def test_an_emailed_notification_arrives_with_its_subject_and_body(
    sessions: async_sessionmaker[AsyncSession], smtp: SmtpServer, alice: Account
) -> None:
    smtp.start()

    await send(
        sessions, alice, "report", title="Your report is ready", body="Q3 performance, 4 pages."
    )

    await eventually(lambda: smtp.inbox.messages, "no email reached the SMTP server")
    [received] = smtp.inbox.messages
    assert received["To"] == alice.email
    assert received["Subject"] == "Your report is ready"
    assert received.get_payload(decode=True).decode().strip() == "Q3 performance, 4 pages."  # type: ignore[union-attr]
    [row] = await eventually(lambda: sent_rows(sessions), "the outbox row was not marked sent")
    assert row.attempts == 1


@pytest.mark.usefixtures("worker")
async def test_with_smtp_down_the_task_retries_and_delivers_once_it_is_back(
    sessions: async_sessionmaker[AsyncSession], smtp: SmtpServer, alice: Account
) -> None:
    await send(sessions, alice, "trade", title="Filled: bought 1 AAPL", body="At 190.12.")

    async def retried() -> bool:
        [row] = await outbox(sessions)
        return row.attempts >= 2 and row.status == "pending"

    await eventually(retried, "the worker did not retry")
    assert smtp.inbox.messages == []
    smtp.start()

    await eventually(lambda: smtp.inbox.messages, "the email did not arrive after SMTP came back")
    [received] = smtp.inbox.messages
    assert received["Subject"] == "Filled: bought 1 AAPL"
    [row] = await eventually(
        lambda: sent_rows(sessions), "the outbox row was not marked sent", within=10
    )
    assert row.attempts >= 3
    assert row.last_error is None


@pytest.mark.usefixtures("worker")
async def test_an_sms_retried_after_a_twilio_error_is_sent_exactly_once(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    control: TwilioControl,
    alice: Account,
) -> None:
    await sms_only(client, alice, "price_alert")
    control.set("500_after_create", times=1)

    await send(sessions, alice, "price_alert", title="AAPL above 200", body="At 200.01 USD.")

    [row] = await eventually(lambda: sent_rows(sessions), "the SMS was not marked sent")
    assert row.channel == "sms"
    assert row.attempts == 2
    [message] = control.messages
    assert message["to"] == PHONE
    assert row.payload["providerId"] == message["sid"]
    assert control.methods == ["POST", "GET"]


@pytest.mark.usefixtures("worker")
async def test_an_sms_to_an_invalid_number_fails_without_retries(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    control: TwilioControl,
    alice: Account,
) -> None:
    await sms_only(client, alice, "account")
    control.set("21211")

    await send(sessions, alice, "account", title="Link broken")

    async def failed() -> list[Any]:
        rows = await outbox(sessions)
        return rows if rows and rows[0].status == "failed" else []

    [row] = await eventually(failed, "the SMS was not marked failed")
    assert row.attempts == 1
    assert control.methods == ["POST"]
