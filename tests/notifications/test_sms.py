"""SMS through Twilio's REST API against the local stub: what is sent, what is permanent (failed
at once) and what is transient (retried), and that an attempt which may have gone through is
never blindly sent again. Without Twilio settings an SMS is a file."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.config import Settings
from flint.kit import vendor_status
from flint.notifications import service
from flint.notifications.errors import DeliveryError
from flint.notifications.models import OutboxMessage
from flint.notifications.sms import MaybeSent
from tests.conftest import Account
from tests.notifications.conftest import PHONE, outbox, send, sms_only, twilio_settings
from tests.stubs import twilio
from tests.stubs.server import HOLD, RunningStub, closed_port
from tests.stubs.twilio import TwilioControl


@pytest.fixture
def settings_overrides(stub: RunningStub) -> dict[str, Any]:
    """A generous read timeout: an answer the stub gives at once must never time out on a busy
    machine (1 s did, in CI); the test of a lost answer shortens it for its one held request."""
    return {**twilio_settings(stub), "vendor_read_timeout": 10.0, "vendor_retry_attempts": 2}


HELD_FOR = 1.0
"""The read timeout of a request the stub holds (`HOLD`): how long it waits for no answer."""


async def queued_sms(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], who: Account
) -> OutboxMessage:
    await sms_only(client, who, "price_alert")
    await send(sessions, who, "price_alert", title="AAPL above 200", body="At 200.01 USD.")
    [message] = await outbox(sessions, "sms")
    return message


async def deliver(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, message_id: uuid.UUID
) -> str:
    """One delivery attempt as the task makes it: what it records is kept even when it raises."""
    async with sessions() as session:
        try:
            return await service.deliver(session, settings, message_id)
        finally:
            await session.commit()


async def stored(
    sessions: async_sessionmaker[AsyncSession], message_id: uuid.UUID
) -> OutboxMessage:
    async with sessions() as session:
        message = await session.get(OutboxMessage, message_id)
        assert message is not None
        return message


async def test_an_sms_reaches_twilio_with_basic_auth_and_the_form_it_documents(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    control: TwilioControl,
    alice: Account,
) -> None:
    message = await queued_sms(client, sessions, alice)

    assert await deliver(sessions, settings, message.id) == "sent"

    [sent] = control.messages
    assert sent["to"] == PHONE
    assert sent["from"] == twilio.FROM_NUMBER
    assert sent["body"] == "Flint: AAPL above 200\nAt 200.01 USD."
    assert sent["account_sid"] == twilio.ACCOUNT_SID
    row = await stored(sessions, message.id)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)
    assert row.payload["providerId"] == sent["sid"]
    assert control.methods == ["POST"]


async def test_a_messaging_service_sid_is_sent_as_the_sender(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    control: TwilioControl,
    alice: Account,
) -> None:
    service_sid = "MG" + "0" * 32
    message = await queued_sms(client, sessions, alice)

    with_service = settings.model_copy(update={"twilio_from_number": service_sid})
    assert await deliver(sessions, with_service, message.id) == "sent"

    [sent] = control.messages
    assert (sent["messaging_service_sid"], sent["from"]) == (service_sid, None)


async def test_an_invalid_number_fails_at_once_without_a_retry(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    control: TwilioControl,
    alice: Account,
) -> None:
    message = await queued_sms(client, sessions, alice)
    control.set("21211")

    assert await deliver(sessions, settings, message.id) == "failed"

    row = await stored(sessions, message.id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error is not None
    assert "21211" in row.last_error
    assert "not a valid phone number" in row.last_error
    assert control.messages == []
    assert await deliver(sessions, settings, message.id) == "failed"  # and stays so
    assert control.methods == ["POST"]


async def test_bad_credentials_are_a_configuration_error_retried_later_and_named_by_readyz(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    control: TwilioControl,
    alice: Account,
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = await queued_sms(client, sessions, alice)
    wrong = settings.model_copy(update={"twilio_auth_token": SecretStr("not-the-token")})

    with pytest.raises(DeliveryError) as refused:  # retried later, not failed at once
        await deliver(sessions, wrong, message.id)
    assert not isinstance(refused.value, MaybeSent)  # a 401 sent nothing
    assert "20003" in str(refused.value)
    assert "FLINT_TWILIO_AUTH_TOKEN" in str(refused.value)
    assert "not-the-token" not in str(refused.value)
    assert any("vendor_misconfigured" in record.getMessage() for record in caplog.records)
    row = await stored(sessions, message.id)
    assert (row.status, row.attempts) == ("pending", 1)  # kept for the retry, with the reason
    assert row.last_error is not None
    assert "20003" in row.last_error
    ready = (await client.get("/readyz")).json()["checks"]["twilio"]
    assert ready["status"] == "error"
    assert "FLINT_TWILIO_AUTH_TOKEN" in ready["detail"]
    assert control.messages == []

    # Fixed settings: the retry sends it, and /readyz clears.
    assert await deliver(sessions, settings, message.id) == "sent"
    assert len(control.messages) == 1
    assert (await client.get("/readyz")).json()["checks"]["twilio"]["status"] == "ok"


async def test_bad_credentials_fail_the_message_with_the_reason_after_the_last_attempt(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    control: TwilioControl,
    alice: Account,
) -> None:
    message = await queued_sms(client, sessions, alice)
    wrong = settings.model_copy(update={"twilio_auth_token": SecretStr("not-the-token")})
    for _ in range(service.MAX_ATTEMPTS - 1):
        with pytest.raises(DeliveryError):
            await deliver(sessions, wrong, message.id)
    assert await deliver(sessions, wrong, message.id) == "failed"
    row = await stored(sessions, message.id)
    assert (row.status, row.attempts) == ("failed", service.MAX_ATTEMPTS)
    assert row.last_error is not None
    assert "Twilio refused the credentials" in row.last_error
    assert control.messages == []
    vendor_status.clear("twilio")


async def test_throttling_is_retried_later_and_sends_once(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    control: TwilioControl,
    alice: Account,
) -> None:
    message = await queued_sms(client, sessions, alice)
    control.set("429", times=1)

    with pytest.raises(DeliveryError) as first:
        await deliver(sessions, settings, message.id)
    assert not isinstance(first.value, MaybeSent)  # a 429 sent nothing: no need to look
    row = await stored(sessions, message.id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert service.MAYBE_SENT not in row.payload

    assert await deliver(sessions, settings, message.id) == "sent"
    assert len(control.messages) == 1
    assert control.methods == ["POST", "POST"]


async def test_after_a_server_error_the_retry_looks_for_the_message_before_sending(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    control: TwilioControl,
    alice: Account,
) -> None:
    message = await queued_sms(client, sessions, alice)
    control.set("500", times=1)

    with pytest.raises(MaybeSent):
        await deliver(sessions, settings, message.id)
    assert service.MAYBE_SENT in (await stored(sessions, message.id)).payload

    assert await deliver(sessions, settings, message.id) == "sent"
    assert len(control.messages) == 1
    assert control.methods == ["POST", "GET", "POST"]


@pytest.mark.parametrize("scenario", ["slow", "500_after_create"])
async def test_a_message_twilio_sent_before_the_answer_was_lost_is_not_sent_again(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    control: TwilioControl,
    alice: Account,
    scenario: str,
) -> None:
    message = await queued_sms(client, sessions, alice)
    control.set(scenario, times=1, delay=HOLD)  # slow: until the read timeout

    impatient = settings.model_copy(update={"vendor_read_timeout": HELD_FOR})
    with pytest.raises(MaybeSent):
        await deliver(sessions, impatient, message.id)
    [sent] = control.messages

    assert await deliver(sessions, settings, message.id) == "sent"

    assert control.messages == [sent]
    assert control.methods == ["POST", "GET"]
    row = await stored(sessions, message.id)
    assert (row.status, row.attempts) == ("sent", 2)
    assert row.payload["providerId"] == sent["sid"]


async def test_twilio_out_of_reach_is_transient_and_certainly_sent_nothing(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    alice: Account,
) -> None:
    message = await queued_sms(client, sessions, alice)
    down = settings.model_copy(update={"twilio_base_url": closed_port()})

    with pytest.raises(DeliveryError) as failed:
        await deliver(sessions, down, message.id)

    assert not isinstance(failed.value, MaybeSent)
    row = await stored(sessions, message.id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None
    assert "twilio" in row.last_error.lower()


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_without_twilio_an_sms_is_a_json_file_in_the_data_dir(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    alice: Account,
) -> None:
    assert settings.sms_backend == "file"
    message = await queued_sms(client, sessions, alice)

    assert await deliver(sessions, settings, message.id) == "sent"

    [written] = (settings.data_dir / "sms-outbox").glob("*.json")
    record = json.loads(written.read_text())
    assert (record["to"], record["body"]) == (PHONE, "Flint: AAPL above 200\nAt 200.01 USD.")
    assert (await stored(sessions, message.id)).payload["providerId"] == f"file:{written.stem}"


def test_a_twilio_account_without_its_token_or_sender_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="FLINT_TWILIO_AUTH_TOKEN"):
        Settings(_env_file=None, twilio_account_sid=twilio.ACCOUNT_SID)  # type: ignore[call-arg]


async def test_the_stub_checks_what_twilio_checks(
    stub: RunningStub, control: TwilioControl
) -> None:
    path = f"/2010-04-01/Accounts/{twilio.ACCOUNT_SID}/Messages.json"
    good = (twilio.ACCOUNT_SID, twilio.AUTH_TOKEN)
    form = {"To": PHONE, "From": twilio.FROM_NUMBER, "Body": "hi"}
    async with httpx.AsyncClient(base_url=stub.url) as http:
        no_auth = await http.post(path, data=form)
        other_account = await http.post(path.replace("0123", "9999", 1), data=form, auth=good)
        no_to = await http.post(path, data={**form, "To": ""}, auth=good)
        no_from = await http.post(path, data={"To": PHONE, "Body": "hi"}, auth=good)
        created = await http.post(path, data=form, auth=good)
        listed = await http.get(path, params={"To": PHONE}, auth=good)

    assert (no_auth.status_code, no_auth.json()["code"]) == (401, 20003)
    assert (other_account.status_code, other_account.json()["code"]) == (404, 20404)
    assert (no_to.status_code, no_to.json()["code"]) == (400, 21604)
    assert (no_from.status_code, no_from.json()["code"]) == (400, 21603)
    assert created.status_code == 201
    assert created.json()["sid"].startswith("SM")
    assert created.json()["status"] == "queued"
    assert [m["sid"] for m in listed.json()["messages"]] == [created.json()["sid"]]
    assert control.messages == [created.json()]


async def test_the_app_built_from_twilio_settings_names_its_backend(app: FastAPI) -> None:
    assert app.state.runtime.settings.sms_backend == "twilio"
