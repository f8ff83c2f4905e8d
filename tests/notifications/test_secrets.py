"""An email's secrets (`notify(..., email_secrets=...)`) wait in the outbox sealed, reach only
the email, and are wiped once it is sent or has failed."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.config import Settings
from flint.db import commit
from flint.kit.crypto import CredentialBox
from flint.notifications import service
from flint.notifications.api import Secrets
from flint.notifications.models import OutboxMessage
from tests.auth.helpers import sent_emails, text_of
from tests.conftest import Account
from tests.notifications.conftest import PHONE, outbox, put_preferences, send

SECRET = "s3cr3t-0123456789abcdef"


async def deliver(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    message: OutboxMessage,
    box: CredentialBox | None,
) -> str:
    async with sessions() as session:
        status = await service.deliver(session, settings, message.id, box)
        await commit(session)
        return status


async def test_a_secret_is_sealed_until_sent_reaches_only_the_email_and_is_then_wiped(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    alice: Account,
) -> None:
    chosen = await put_preferences(
        client, alice, {"phoneNumber": PHONE, "channels": {"account": {"email": True, "sms": True}}}
    )
    assert chosen.status_code == 200, chosen.text
    box = app.state.runtime.get(CredentialBox)
    await send(
        sessions,
        alice,
        "account",
        body="Something happened; details by email.",
        email_body="Your code: ${code}. Keep it ($5 says you will).",
        email_secrets=Secrets({"code": SECRET}, box),
    )
    mail, text = await outbox(sessions, "email"), await outbox(sessions, "sms")
    assert SECRET not in repr([(m.body, m.payload) for m in mail + text])
    assert box.open(mail[0].payload["sealed"]) == {"code": SECRET}
    assert "sealed" not in text[0].payload

    assert await deliver(sessions, settings, mail[0], box) == "sent"

    [sent] = sent_emails(settings.data_dir).values()
    assert text_of(sent).strip() == f"Your code: {SECRET}. Keep it ($5 says you will)."
    [row] = await outbox(sessions, "email")
    assert (row.status, set(row.payload)) == ("sent", {"notificationId"})
    assert row.body == "Your code: ${code}. Keep it ($5 says you will)."


async def test_a_secret_no_configured_key_opens_fails_the_email_and_is_wiped(
    app: FastAPI, sessions: async_sessionmaker[AsyncSession], settings: Settings, alice: Account
) -> None:
    dropped_key = CredentialBox.keyed_by(uuid.uuid4().hex)  # as if a key was rotated out early
    await send(
        sessions,
        alice,
        "security",
        email_body="Code ${code}",
        email_secrets=Secrets({"code": SECRET}, dropped_key),
    )
    [mail] = await outbox(sessions, "email")

    status = await deliver(sessions, settings, mail, app.state.runtime.get(CredentialBox))

    [row] = await outbox(sessions, "email")
    assert status == "failed"
    assert (row.status, set(row.payload)) == ("failed", {"notificationId"})
    assert row.last_error == "no configured credentials key opens the message's values"
    assert sent_emails(settings.data_dir) == {}
