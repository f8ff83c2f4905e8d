"""SnapTrade users: registering one, and recovering a registration whose answer was lost.

SnapTrade hands a user's secret out once, and registering is not safe to repeat, so
``POST /snapTrade/registerUser`` is sent once (no retry): when its answer is lost (a timeout or
a 5xx) or SnapTrade says the user exists already (its secret lost with an earlier lost answer),
the orphan is deleted (``DELETE /snapTrade/deleteUser``, which SnapTrade queues) and a fresh
user ``<user key>.<random>`` is registered in its place: the documented way out
(``resetUserSecret`` needs the secret that was lost; "delete and recreate the user"). The
orphan never had a secret Flint kept, so no connection can be lost with it. A fresh user whose
answer is lost again raises ProviderUnavailable (the next attempt starts over).

So the SnapTrade user id of a Flint user (what SnapTrade's webhooks name) is the user key, or
``<user key>.<8 hex digits>`` after a recovery: :func:`user_keys_of` reads the user key back
(for a lookup only; the stored identity decides).
"""

from __future__ import annotations

import re
import secrets

import httpx
import structlog

from flint.brokerage.snaptrade import mapping
from flint.brokerage.snaptrade.client import NAME, USER_ID, USER_SECRET, SnapTradeClient
from flint.brokerage.types import AccountProviderError, Identity
from flint.kit.vendor_errors import ProviderGarbage, ProviderUnavailable

log = structlog.get_logger(__name__)

_RECOVERED = re.compile(r"^(?P<key>.+)\.[0-9a-f]{8}$")


def _recovered(user_key: str) -> str:
    """The fresh SnapTrade user id registered in place of a lost registration of ``user_key``."""
    return f"{user_key}.{secrets.token_hex(4)}"


def user_keys_of(snaptrade_user_id: str) -> list[str]:
    """The user keys ``snaptrade_user_id`` may have been registered for: itself, and the key of
    a recovered registration when it has that form (most likely first)."""
    found = _RECOVERED.match(snaptrade_user_id)
    return [found["key"], snaptrade_user_id] if found else [snaptrade_user_id]


async def register(http: SnapTradeClient, user_key: str) -> Identity:
    """``POST /snapTrade/registerUser``, once; see the module docstring for the recovery."""
    if not user_key:
        raise ValueError("user_key must not be empty")
    try:
        identity = await _register(http, user_key)
    except ProviderUnavailable as exc:  # sent, and maybe carried out
        log.warning("snaptrade_register_unconfirmed", reason=exc.reason)
        identity = None
    if identity is not None:
        return identity
    await delete_user(http, user_key)
    fresh = _recovered(user_key)
    identity = await _register(http, fresh)
    if identity is None:
        raise AccountProviderError(NAME, "SnapTrade refused to register the user")
    return identity


async def _register(http: SnapTradeClient, user_id: str) -> Identity | None:
    """The new user, or None when SnapTrade says it exists already."""
    response = await http.call(
        "POST", "/snapTrade/registerUser", body={"userId": user_id}, retry=False
    )
    if response.status_code == httpx.codes.BAD_REQUEST and not http.partner_refused(response):
        detail, _ = http.error(response)
        if "exist" in detail.lower():
            return None
        raise AccountProviderError(NAME, f"SnapTrade refused to register the user: {detail}")
    body = http.ok(response, "the registered user", gone=AccountProviderError)
    if not isinstance(body, dict):
        raise ProviderGarbage(NAME, "the registered user is not an object")
    return {
        USER_ID: mapping.required_str(body, "userId", "the registered user"),
        USER_SECRET: mapping.required_str(body, "userSecret", "the registered user"),
    }


async def delete_user(http: SnapTradeClient, user_id: str) -> None:
    """Delete a user (one leaving Flint, or one whose secret was lost); 404: there is none to
    delete."""
    response = await http.call("DELETE", "/snapTrade/deleteUser", params={"userId": user_id})
    if response.status_code != httpx.codes.NOT_FOUND:
        http.ok(response, "the deleted user", gone=AccountProviderError)
    log.info("snaptrade_user_deleted", found=response.is_success)
