"""SnapTrade's webhooks: how a delivery is verified, and what Flint reads from it.

Signing, as SnapTrade's "Webhooks" guide documents it (docs.snaptrade.com/docs/webhooks, the
same text as passiv/snaptrade-sdks ``docs/webhooks.md``; the body-borne ``webhookSecret`` is
deprecated): the ``Signature`` header is base64 of HMAC-SHA256, keyed by the partner's
**consumer key**, over the JSON payload serialised compact and key-sorted
(``json.dumps(payload, separators=(",", ":"), sort_keys=True)``, ASCII-escaped as Python's
default); compared in constant time. Replays: the payload's ``eventTimestamp`` (ISO 8601 with
an offset) must be at most :data:`TOLERANCE` old, the guide's 300 seconds, and not more than
that in the future (clock skew). Anything else is `WebhookRefused`.

The payload (API-key schema, and the ``oauth_v1`` schema of OAuth applications): the id is
``webhookId`` (the spec's WebhookBase spells it ``webookId``; some payloads carry both, and
``webhookId`` wins), ``eventType``, ``userId`` (the SnapTrade user: Flint registers its users
under their Flint id), ``eventTimestamp``, and for connection and account events
``brokerageAuthorizationId`` (``connectionId`` in ``oauth_v1``) and ``accountId``. An API-key
payload's ``clientId``, when present, must be this server's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from flint.brokerage.types import Credentials, Identity
from flint.webhooks import WebhookRefused

TOLERANCE = timedelta(seconds=300)
"""How far ``eventTimestamp`` may be from now (SnapTrade's guide refuses older than 300 s)."""
SIGNATURE_HEADER = "Signature"


def webhook_signature(consumer_key: str, payload: Any) -> str:
    """The ``Signature`` SnapTrade sends with ``payload`` (the parsed JSON body)."""
    canonical = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    digest = hmac.new(consumer_key.encode(), canonical.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class SnapTradeEvent:
    """A verified SnapTrade webhook."""

    webhook_id: str
    event_type: str
    user_id: str
    occurred_at: datetime
    connection_id: str | None
    account_id: str | None
    payload: dict[str, Any]


def _text(payload: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def verify_webhook(
    consumer_key: str,
    client_id: str | None,
    body: bytes,
    signature: str | None,
    *,
    now: datetime,
) -> SnapTradeEvent:
    """The event in ``body`` once its ``Signature`` matches and its time is within
    :data:`TOLERANCE` of ``now``; WebhookRefused otherwise (saying why, never the key)."""
    if not signature:
        raise WebhookRefused("no Signature header")
    try:
        payload = json.loads(body)
        expected = webhook_signature(consumer_key, payload)
    except ValueError:
        raise WebhookRefused("the body is not JSON") from None
    except RecursionError:  # the signature is over the parsed JSON, so this comes before it
        raise WebhookRefused("the body's JSON is nested too deeply") from None
    if not hmac.compare_digest(signature.strip().encode(), expected.encode()):
        raise WebhookRefused("the Signature does not match the body")
    if not isinstance(payload, dict):
        raise WebhookRefused("the body is not a SnapTrade event")
    webhook_id = _text(payload, "webhookId", "webookId")
    event_type = _text(payload, "eventType")
    user_id = _text(payload, "userId")
    stamp = _text(payload, "eventTimestamp")
    if not (webhook_id and event_type and user_id and stamp) or len(webhook_id) > 64:
        raise WebhookRefused("the body is not a SnapTrade event")
    try:
        occurred_at = datetime.fromisoformat(stamp)
    except ValueError:
        raise WebhookRefused("eventTimestamp is not an ISO 8601 time") from None
    if occurred_at.tzinfo is None:
        raise WebhookRefused("eventTimestamp has no UTC offset")
    if abs(now - occurred_at) > TOLERANCE:
        raise WebhookRefused(f"eventTimestamp is more than {TOLERANCE.seconds} s from now")
    sender = payload.get("clientId")
    if client_id and sender is not None and sender != client_id:
        raise WebhookRefused("the event is for another SnapTrade client id")
    return SnapTradeEvent(
        webhook_id=webhook_id,
        event_type=event_type.upper(),
        user_id=user_id,
        occurred_at=occurred_at,
        connection_id=_text(payload, "brokerageAuthorizationId", "connectionId"),
        account_id=_text(payload, "accountId"),
        payload=payload,
    )


@runtime_checkable
class Reconnects(Protocol):
    """A provider whose portal can repair a broken connection (SnapTrade's ``reconnect``)."""

    async def reconnect_url(
        self, identity: Identity, credentials: Credentials, *, redirect_url: str | None
    ) -> str:
        """The portal link that repairs the connection of the link holding ``credentials``."""
        ...
