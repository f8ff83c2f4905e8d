"""SnapTrade's webhooks, sent the way SnapTrade sends them, from the local SnapTrade's state.

Signing, as SnapTrade's "Webhooks" guide documents it (docs.snaptrade.com/docs/webhooks; the
same text is passiv/snaptrade-sdks ``docs/webhooks.md``), computed here independently of
Flint: the ``Signature`` header is base64(HMAC-SHA256(consumer key, the payload as compact,
key-sorted JSON)). The body itself is sent as ``json.dumps`` writes it by default (spaces after
separators, keys in the payload's order): the signature is over the JSON's content, not its
bytes, so a receiver must not compare against the raw body.

Payloads follow the guide's examples of the API-key schema: ``webhookId``, ``clientId``,
``eventTimestamp`` (ISO 8601, ``+00:00``), ``userId``, ``eventType``, the deprecated
``webhookSecret``, and for connection and account events ``brokerageAuthorizationId``,
``brokerageId`` and ``accountId``; ``ACCOUNT_HOLDINGS_UPDATED`` carries its ``details``.
``TRADES_PLACED`` is not among the guide's types (its ``TRADE_DETECTION`` and ``TRADE_UPDATE``
are); it is sent in the same shape.

Each event method first changes the local SnapTrade the way the event says (a broken
connection is disabled, a deleted one is gone with its accounts, a new account appears), then
returns the payload; :func:`deliver` signs and POSTs one to Flint. SnapTrade counts a delivery
answered 200, 201, 202 or 204 as delivered (and retries others, later); :func:`deliver` returns
the response so a test can look at it.

Every payload the stub makes is checked against the spec's webhook schema (``WebhookBase``, the
request body of every webhook the spec lists, such as ``Webhooks_connectionDeleted``) with
openapi-schema-validator (openapi-core's); one that breaks it raises at once.
:meth:`SnapTradeWebhooks.connection_deleted` is what SnapTrade sends once a deletion asked for
with ``DELETE /connection/{id}`` is done (SnapTrade deletes asynchronously).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from openapi_schema_validator import OAS30Validator

from tests.stubs.contract import load, spec_path
from tests.stubs.snaptrade.common import CLIENT_ID, CONSUMER_KEY
from tests.stubs.snaptrade.state import Account, SnapTradeState

URL = "/api/v1/webhooks/snaptrade"
DELIVERED = frozenset({200, 201, 202, 204})
"""The answers SnapTrade counts as delivered."""


def signature(payload: Any, *, key: str = CONSUMER_KEY) -> str:
    """SnapTrade's ``Signature`` for ``payload`` (the JSON value, not its text)."""
    canonical = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    digest = hmac.new(key.encode(), canonical.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed(payload: Any, *, key: str = CONSUMER_KEY) -> dict[str, Any]:
    """The keyword arguments of an httpx POST delivering ``payload`` as SnapTrade does."""
    return {
        "content": json.dumps(payload),
        "headers": {"Signature": signature(payload, key=key), "Content-Type": "application/json"},
    }


async def deliver(
    http: httpx.AsyncClient, payload: Any, *, key: str = CONSUMER_KEY
) -> httpx.Response:
    """POST ``payload`` to Flint's SnapTrade webhook, signed with ``key``."""
    return await http.post(URL, **signed(payload, key=key))


def stamp(moment: datetime) -> str:
    """An ``eventTimestamp`` as SnapTrade writes it."""
    return moment.astimezone(UTC).isoformat()


def spec_errors(payload: Any) -> list[str]:
    """How ``payload`` breaks the spec's ``WebhookBase`` (nothing when it conforms)."""
    schema = load(spec_path("snaptrade-api.yaml")).spec / "components" / "schemas" / "WebhookBase"
    with schema.resolve() as resolved:
        validator = OAS30Validator(resolved.contents)
    return [f"{e.message} at {list(e.absolute_path)}" for e in validator.iter_errors(payload)]


class SnapTradeWebhooks:
    """The events of one local SnapTrade (its :class:`tests.stubs.snaptrade.SnapTradeState`)."""

    def __init__(self, state: SnapTradeState) -> None:
        self.state = state

    def event(
        self,
        event_type: str,
        user_id: str,
        *,
        connection_id: str | None = None,
        account_id: str | None = None,
        at: datetime | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A payload of ``event_type`` for ``user_id`` (now, unless ``at``)."""
        payload: dict[str, Any] = {
            "webhookId": str(uuid.uuid4()),
            "clientId": CLIENT_ID,
            "eventTimestamp": stamp(at or datetime.now(UTC)),
            "userId": user_id,
            "eventType": event_type,
            "webhookSecret": secrets.token_urlsafe(15),
        }
        if connection_id is not None:
            payload["brokerageAuthorizationId"] = connection_id
            connection = self.state.connections.get(
                connection_id
            ) or self.state.deleted_connections.get(connection_id)
            if connection is not None:
                payload["brokerageId"] = str(uuid.uuid5(uuid.NAMESPACE_DNS, connection.broker))
        if account_id is not None:
            payload["accountId"] = account_id
        payload.update(extra)
        errors = spec_errors(payload)
        assert not errors, f"the stub's {event_type} breaks the spec's WebhookBase: {errors}"
        return payload

    def _owner(self, connection_id: str) -> str:
        return self.state.connections[connection_id].user_id

    def break_connection(self, connection_id: str, **kw: Any) -> dict[str, Any]:
        """The brokerage stops answering: the connection is disabled."""
        self.state.connections[connection_id].disabled = True
        return self.event(
            "CONNECTION_BROKEN", self._owner(connection_id), connection_id=connection_id, **kw
        )

    def fix_connection(self, connection_id: str, **kw: Any) -> dict[str, Any]:
        self.state.connections[connection_id].disabled = False
        return self.event(
            "CONNECTION_FIXED", self._owner(connection_id), connection_id=connection_id, **kw
        )

    def delete_connection(self, connection_id: str, **kw: Any) -> dict[str, Any]:
        """The connection is deleted at SnapTrade, with its accounts."""
        owner = self._owner(connection_id)
        del self.state.connections[connection_id]
        for account_id in [
            a.id for a in self.state.accounts.values() if a.connection_id == connection_id
        ]:
            del self.state.accounts[account_id]
        return self.event("CONNECTION_DELETED", owner, connection_id=connection_id, **kw)

    def connection_deleted(self, connection_id: str, **kw: Any) -> dict[str, Any]:
        """The confirmation of a deletion asked for with ``DELETE /connection/{id}``."""
        deleted = self.state.deleted_connections[connection_id]
        return self.event("CONNECTION_DELETED", deleted.user_id, connection_id=connection_id, **kw)

    def new_account(self, connection_id: str, name: str = "Robinhood Roth IRA") -> dict[str, Any]:
        """SnapTrade finds another account behind the connection (the samples' account, a
        fresh id and number)."""
        first = next(a for a in self.state.accounts.values() if a.connection_id == connection_id)
        raw = copy.deepcopy(first.raw)
        raw.update(id=str(uuid.uuid4()), name=name, number=f"Q{secrets.randbelow(10**7):07d}")
        account = Account(
            raw,
            connection_id,
            copy.deepcopy(first.balances),
            copy.deepcopy(first.positions),
            copy.deepcopy(first.positions_all),
            [],
        )
        self.state.accounts[account.id] = account
        return self.event(
            "NEW_ACCOUNT_AVAILABLE",
            self._owner(connection_id),
            connection_id=connection_id,
            account_id=account.id,
        )

    def holdings_updated(self, account_id: str) -> dict[str, Any]:
        connection_id = self.state.accounts[account_id].connection_id
        ok = {"success": True, "error": None}
        details = {"total_value": ok, "positions": ok, "balances": ok, "orders": ok}
        return self.event(
            "ACCOUNT_HOLDINGS_UPDATED",
            self._owner(connection_id),
            connection_id=connection_id,
            account_id=account_id,
            details=details,
        )

    def trades_placed(self, account_id: str) -> dict[str, Any]:
        connection_id = self.state.accounts[account_id].connection_id
        return self.event(
            "TRADES_PLACED",
            self._owner(connection_id),
            connection_id=connection_id,
            account_id=account_id,
        )


def aged(payload: dict[str, Any], seconds: float) -> dict[str, Any]:
    """``payload`` as if its event happened ``seconds`` ago (negative: in the future)."""
    moment = datetime.fromisoformat(payload["eventTimestamp"]) - timedelta(seconds=seconds)
    return {**payload, "eventTimestamp": stamp(moment)}
