"""A local Twilio: the Programmable Messaging ``Messages`` resource of the 2010-04-01 REST API.

Shapes are reconstructed from Twilio's public API reference (no captured response; the field
list matches the Message resource there and the message bodies of public test suites that
record it): create ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form-encoded
``To``, ``From`` or ``MessagingServiceSid``, ``Body``) answers 201 with the message resource
(``sid`` ``SM`` + 32 hex, ``status`` ``queued``, RFC 2822 dates, ``num_segments`` as a string,
``subresource_uris.media``). ``GET`` on the same path lists messages newest first, filtered by
``To`` and ``From``, paged by ``PageSize`` (first page only), in Twilio's list envelope
(``messages``, ``page``, ``page_size``, ``start``, ``end``, ``uri``, ``first_page_uri``,
``next_page_uri``, ``previous_page_uri``). Errors are Twilio's ``{code, message, more_info,
status}``: 20003 (401, bad or missing HTTP Basic credentials), 20404 (404, a path naming
another account than the one authenticated), 21602/21603/21604 (400, Body/From/To missing),
21211 (400, ``To`` not a valid E.164 number), 20429 (429) and 20500 (500). The codes are
Twilio's; the wording of the messages is the stub's, close to Twilio's.

Credentials: :data:`ACCOUNT_SID` with :data:`AUTH_TOKEN`. Sent messages are kept in
``control.messages`` (``reset`` forgets them).

Scenarios (see :class:`tests.stubs.server.StubControl`; they apply to creates only, listing
always works): ``success``; ``500`` and ``429`` (nothing created); ``21211`` (refuse any number
as invalid); ``slow`` (create the message, then answer only after ``delay`` seconds: the
answer a client gives up on after the message was sent) and ``500_after_create`` (create it,
then answer 500).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.stubs.server import StubControl, stub_app

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "stub-twilio-auth-token-0123456789"
FROM_NUMBER = "+15005550006"
API = "/2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")


@dataclass
class TwilioControl(StubControl):
    """:class:`StubControl` plus the messages created so far, oldest first."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    """The method of each request seen, e.g. ``["POST", "GET", "POST"]``."""

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.messages.clear()
            self.methods.clear()

    def record(self, request: Request) -> str:
        scenario = super().record(request)
        with self._lock:
            self.methods.append(request.method)
        return scenario


def error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def _credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def message_resource(to: str, sender: dict[str, str], body: str) -> dict[str, Any]:
    sid = "SM" + secrets.token_hex(16)
    now = format_datetime(datetime.now(UTC).replace(microsecond=0))
    uri = f"{API}/Accounts/{ACCOUNT_SID}/Messages/{sid}.json"
    return {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender.get("From"),
        "messaging_service_sid": sender.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": str(1 if len(body) <= 160 else -(-len(body) // 153)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
        "to": to,
        "uri": uri,
    }


def create_app() -> Starlette:
    control = TwilioControl()

    def authenticate(request: Request) -> JSONResponse | None:
        given = _credentials(request)
        if given != (ACCOUNT_SID, AUTH_TOKEN):
            return error(401, 20003, "Authenticate")
        if request.path_params["account_sid"] != ACCOUNT_SID:
            return error(404, 20404, f"The requested resource {request.url.path} was not found")
        return None

    async def create(request: Request) -> JSONResponse:
        refused = authenticate(request)
        if refused is not None:
            return refused
        scenario = control.record(request)
        form: dict[str, str] = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        if scenario == "500":
            return error(500, 20500, "An internal server error has occurred")
        if scenario == "429":
            return error(429, 20429, "Too Many Requests")
        to = form.get("To", "")
        sender = {k: form[k] for k in ("From", "MessagingServiceSid") if form.get(k)}
        if not to:
            return error(400, 21604, "A 'To' phone number is required.")
        if not sender:
            return error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return error(400, 21602, "Message body is required.")
        if scenario == "21211" or not E164.fullmatch(to):
            return error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        message = message_resource(to, sender, form["Body"])
        with control._lock:
            control.messages.append(message)
        if scenario == "slow":
            await control.pause()
        if scenario == "500_after_create":
            return error(500, 20500, "An internal server error has occurred")
        return JSONResponse(message, status_code=201)

    async def listing(request: Request) -> JSONResponse:
        refused = authenticate(request)
        if refused is not None:
            return refused
        control.record(request)
        params = dict(request.query_params)
        try:
            size = max(1, min(1000, int(params.get("PageSize", "50"))))
        except ValueError:
            return error(400, 20001, "Invalid PageSize")
        with control._lock:
            found = [
                m
                for m in reversed(control.messages)
                if all(m.get(key.lower()) == params[key] for key in ("To", "From") if key in params)
            ][:size]
        path = f"{API}/Accounts/{ACCOUNT_SID}/Messages.json"
        first = f"{path}?{urlencode({**params, 'Page': 0, 'PageSize': size})}"
        return JSONResponse(
            {
                "messages": found,
                "end": max(0, len(found) - 1),
                "first_page_uri": first,
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": first,
            }
        )

    async def messages(request: Request) -> JSONResponse:
        return await (create(request) if request.method == "POST" else listing(request))

    return stub_app(
        [Route(API + "/Accounts/{account_sid}/Messages.json", messages, methods=["GET", "POST"])],
        control,
    )
