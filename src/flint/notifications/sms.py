"""SMS delivery: Twilio's Programmable Messaging REST API when configured, otherwise JSON files
under ``data_dir/sms-outbox`` (so a self-hosted Flint runs with no keys).

Sending a message is a POST that is not idempotent: one that timed out after it was sent, or
got a 5xx, may have been carried out. Such an attempt raises :class:`MaybeSent`; the outbox
remembers it, and the next attempt first lists the recent messages to the number and only
sends when ours is not among them. Failures that certainly sent nothing (connection refused,
429, an open circuit) raise :class:`DeliveryError`; Twilio's 4xx refusals of the message
(21211: not a valid number) raise :class:`Undeliverable`. A 401 (error 20003: the account SID
or auth token is wrong) refuses Flint's configuration, not the message: it raises
:class:`TwilioMisconfigured`, a DeliveryError, so the message is retried later (it goes out once
the settings are fixed) and fails with the reason only after the last attempt; `/readyz` names
it (``twilio``) and it is logged as ``vendor_misconfigured``.
"""

from __future__ import annotations

import email.utils
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
import structlog
from purgatory.domain.model import OpenedState

from flint.config import Settings
from flint.kit import vendor_status
from flint.kit.files import write_private
from flint.kit.http import VendorClient
from flint.kit.time import utcnow
from flint.kit.vendor_errors import ProviderError, ProviderThrottled
from flint.notifications.errors import DeliveryError, Undeliverable

log = structlog.get_logger(__name__)

NAME = "twilio"
"""The vendor's name in errors, logs, `/readyz` and the circuit breaker."""
MAX_LENGTH = 320
"""Two segments at most: an SMS says what happened; the details are in the app and the email."""
CLOCK_SLACK = timedelta(minutes=1)
"""How far Twilio's clock may be behind ours when looking for an earlier attempt's message."""
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, OpenedState)


class MaybeSent(DeliveryError):
    """The attempt may have reached Twilio: look for the message before sending it again."""


class TwilioMisconfigured(DeliveryError):
    """Twilio refused the credentials (401): nothing was sent, and nothing will be until an
    operator fixes FLINT_TWILIO_ACCOUNT_SID or FLINT_TWILIO_AUTH_TOKEN."""


def _refused_credentials(response: httpx.Response) -> TwilioMisconfigured:
    reason = (
        f"Twilio refused the credentials ({_problem(response)}): check "
        "FLINT_TWILIO_ACCOUNT_SID and FLINT_TWILIO_AUTH_TOKEN"
    )
    return TwilioMisconfigured(reason)


def text_of(title: str, body: str) -> str:
    text = f"Flint: {title}\n{body}".strip()
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"


@dataclass(frozen=True)
class Twilio:
    """The two calls Flint makes: create a message, and list the recent ones to a number."""

    client: VendorClient
    account_sid: str
    auth_token: str
    sender: str

    @property
    def _path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    @property
    def _auth(self) -> tuple[str, str]:
        return (self.account_sid, self.auth_token)

    def _sender_param(self) -> dict[str, str]:
        if self.sender.startswith("MG"):
            return {"MessagingServiceSid": self.sender}
        return {"From": self.sender}

    async def create(self, to: str, body: str) -> str:
        """Send; returns the message SID Twilio gave it."""
        form = {"To": to, **self._sender_param(), "Body": body}
        try:
            response = await self.client.request(
                "POST",
                self._path,
                content=urlencode(form).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                auth=self._auth,
            )
        except ProviderThrottled as exc:
            raise DeliveryError(f"Twilio: {exc.reason}") from exc
        except ProviderError as exc:
            if isinstance(exc.__cause__, _NOT_SENT):
                raise DeliveryError(f"Twilio: {exc.reason}") from exc
            raise MaybeSent(f"Twilio: {exc.reason}; the message may have been sent") from exc
        if response.status_code == httpx.codes.UNAUTHORIZED:
            raise _refused_credentials(response)
        if response.is_success:
            sid = _json(response).get("sid")
            if isinstance(sid, str) and sid:
                return sid
            raise MaybeSent(f"Twilio answered HTTP {response.status_code} without a message sid")
        if response.is_client_error:
            raise Undeliverable(f"Twilio refused the message: {_problem(response)}")
        raise MaybeSent(f"Twilio answered HTTP {response.status_code}: {_problem(response)}")

    async def find(self, to: str, body: str, since: datetime) -> str | None:
        """The SID of a message with this body sent to ``to`` since ``since``, if there is one
        (Twilio lists the newest first; a trial account prefixes bodies, hence endswith)."""
        params = {"To": to, "PageSize": "50"}
        if not self.sender.startswith("MG"):
            params["From"] = self.sender
        try:
            response = await self.client.request("GET", self._path, params=params, auth=self._auth)
        except ProviderError as exc:
            raise DeliveryError(f"Twilio (checking for an earlier send): {exc.reason}") from exc
        if response.status_code == httpx.codes.UNAUTHORIZED:
            raise _refused_credentials(response)
        if not response.is_success:
            raise DeliveryError(
                f"Twilio (checking for an earlier send) answered {_problem(response)}"
            )
        messages = _json(response).get("messages")
        if not isinstance(messages, list):
            raise DeliveryError("Twilio's message list has no `messages`")
        cutoff = since - CLOCK_SLACK
        for message in messages:
            if not isinstance(message, dict) or not str(message.get("body", "")).endswith(body):
                continue
            created = _date(message.get("date_created"))
            if created is not None and created >= cutoff and isinstance(message.get("sid"), str):
                return str(message["sid"])
        return None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _problem(response: httpx.Response) -> str:
    """Twilio's error body ``{code, message, more_info, status}`` in one line."""
    data = _json(response)
    code, message = data.get("code"), data.get("message")
    if code is None and message is None:
        return f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}, error {code}: {message}"[:400]


def _date(value: object) -> datetime | None:
    """Twilio's dates are RFC 2822 (``Thu, 30 Jul 2015 20:12:31 +0000``)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else None


async def send(settings: Settings, *, to: str, body: str, maybe_sent_since: datetime | None) -> str:
    """Deliver one text; returns the provider's message id. ``maybe_sent_since``: an earlier
    attempt may have gone through at about that time, so look for it before sending."""
    if settings.sms_backend == "file":
        return await _write_file(settings, to=to, body=body)
    # Settings refuse a Twilio account without its token and sender.
    assert settings.twilio_account_sid
    assert settings.twilio_auth_token
    assert settings.twilio_from_number
    async with VendorClient(NAME, settings.twilio_base_url, settings.vendor_policy()) as client:
        twilio = Twilio(
            client,
            settings.twilio_account_sid,
            settings.twilio_auth_token.get_secret_value(),
            settings.twilio_from_number,
        )
        try:
            sid = await _find_or_create(twilio, to, body, maybe_sent_since)
        except TwilioMisconfigured as exc:
            # Under the data dir too: the worker sends, the API processes answer /readyz.
            vendor_status.report(NAME, str(exc), settings.data_dir)
            raise
        vendor_status.clear(NAME, settings.data_dir)
        return sid


async def _find_or_create(
    twilio: Twilio, to: str, body: str, maybe_sent_since: datetime | None
) -> str:
    if maybe_sent_since is not None:
        found = await twilio.find(to, body, maybe_sent_since)
        if found is not None:
            log.info("sms_found_sent", sid=found)
            return found
    return await twilio.create(to, body)


async def _write_file(settings: Settings, *, to: str, body: str) -> str:
    now = utcnow()
    name = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    record = {"to": to, "from": settings.twilio_from_number, "body": body, "createdAt": now}
    text = json.dumps(record, default=str, indent=2, ensure_ascii=False)
    path = settings.data_dir / "sms-outbox" / f"{name}.json"
    await anyio.to_thread.run_sync(write_private, path, text.encode("utf-8"))
    return f"file:{name}"
