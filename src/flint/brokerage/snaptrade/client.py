"""SnapTrade's partner auth and HTTP: request signing, signed calls, and what its errors mean.

Paths: the spec's only server is ``https://api.snaptrade.com`` and its operations live at the
root (``/accounts``, ``/trade/place``); the legacy ``/api/v1`` prefix still answers but with a
``Deprecation`` header. :data:`DEFAULT_BASE_URL` is the root; a base URL that still ends in
``/api/v1`` works the same (the operations are sent under it).

Partner auth (every request): ``clientId`` and ``timestamp`` (Unix seconds, fresh on every
attempt) lead the query string, user-scoped calls add ``userId`` and ``userSecret``, and the
``Signature`` header is :func:`signature` of the request exactly as sent: base64 of
HMAC-SHA256, keyed by the consumer key, over the compact, key-sorted JSON
``{"content": <JSON body, or null when there is none or it is {}>, "path": "/api/v1" +
<the operation's path>, "query": "<the raw query string>"}``. That is what SnapTrade's own
Python SDK computes (passiv/snaptrade-sdks ``sdks/python/snaptrade_client/
request_after_hook.py`` signs ``"/api/v1%s" % path`` whatever host it talks to). The consumer
key, the user secret and signatures are never logged or put in an error.

Failures: 5xx (but 501), 429 and timeouts are `ProviderUnavailable`/`ProviderThrottled` after
`VendorClient`'s retries (GETs, DELETEs and the other safe POSTs); a 501 is SnapTrade saying
the brokerage does not offer that operation, and is returned to the caller. Code 1076 ("Unable
to verify signature sent" on a 401, "Unable to verify data sent" on a 400), or a 401/403 that
complains about the clientId or timestamp, is a plain ProviderError naming the consumer key
and the clock: the links are fine and must not be dropped. A 403 "feature not enabled" (code
1141) is a plain ProviderError too (the API key's plan, not the link). Any other 401/403, or a
404 for an account or connection, is `AccountGone` (`LinkRefused` in `link`), with SnapTrade's
``detail`` as the reason. Bodies that are not JSON are `ProviderGarbage`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Generator
from decimal import Decimal
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

import httpx
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.brokerage.types import AccountGone, AccountProviderError
from flint.kit.http import VendorClient, VendorPolicy
from flint.kit.vendor_errors import ProviderError, ProviderGarbage

NAME = "snaptrade"
"""The provider's name: in errors, logs and the vendor client's policy."""
DEFAULT_BASE_URL = "https://api.snaptrade.com"
SIGNED_PREFIX = "/api/v1"
"""What the signed path starts with (the SDKs' ``"/api/v1%s" % path``)."""
USER_ID = "userId"
USER_SECRET = "userSecret"  # noqa: S105 (the identity key, not a secret)

_PARTNER_AUTH_CODES = frozenset({"1076"})
_FEATURE_CODES = frozenset({"1141"})
_PARTNER_AUTH_WORDS = ("signature", "clientid", "client id", "timestamp")


def _unix_time() -> float:
    """The clock the ``timestamp`` parameter is read from (tests move it)."""
    return time.time()


def signature(consumer_key: str, path: str, query: str, content: bytes | None) -> str:
    """SnapTrade's ``Signature`` header for a request with the signed path ``path``
    (``/api/v1`` + the operation's path), the raw query string ``query`` (no ``?``) and body
    ``content`` (JSON bytes, or None)."""
    body: Any = json.loads(content) if content else None
    if body == {}:
        body = None
    canonical = json.dumps(
        {"content": body, "path": path, "query": query}, separators=(",", ":"), sort_keys=True
    )
    digest = hmac.new(consumer_key.encode(), canonical.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class _Signer(httpx.Auth):
    """Puts ``clientId`` and a fresh ``timestamp`` first in the query and signs the request as it
    will be sent (so every retry is signed anew)."""

    def __init__(self, client_id: str, consumer_key: str, base_path: str) -> None:
        self._client_id = client_id
        self._consumer_key = consumer_key
        self._base_path = base_path

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        rest = [
            (key, value)
            for key, value in request.url.params.multi_items()
            if key not in ("clientId", "timestamp")
        ]
        stamp = str(int(_unix_time()))
        request.url = request.url.copy_with(
            params=[("clientId", self._client_id), ("timestamp", stamp), *rest]
        )
        path, _, query = request.url.raw_path.decode("ascii").partition("?")
        operation = path[len(self._base_path) :] if path.startswith(self._base_path) else path
        request.headers["Signature"] = signature(
            self._consumer_key, SIGNED_PREFIX + operation, query, request.content or None
        )
        yield request


def seg(value: str) -> str:
    """A path segment, escaped (ids come from callers and vendors)."""
    return quote(value, safe="")


class SnapTradeClient:
    """Signed calls to SnapTrade through the vendor client, and the errors its answers mean."""

    def __init__(
        self,
        client_id: str,
        consumer_key: str,
        base_url: str,
        *,
        policy: VendorPolicy | None,
        storage: Storage | None,
        breakers: AsyncCircuitBreakerFactory | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._signer = _Signer(client_id, consumer_key, urlsplit(base_url).path.rstrip("/"))
        self._http = VendorClient(
            NAME,
            base_url.rstrip("/"),
            policy,
            headers={"Accept": "application/json"},
            storage=storage,
            breakers=breakers,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        user: tuple[str, str] | None = None,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        retry: bool | None = None,
    ) -> httpx.Response:
        query: dict[str, str] = {}
        if user is not None:
            query[USER_ID], query[USER_SECRET] = user
        query.update(params or {})
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"} if content is not None else None
        return await self._http.request(
            method,
            path,
            params=query,
            content=content,
            headers=headers,
            retry=retry,
            auth=self._signer,
        )

    async def get(
        self, user: tuple[str, str], path: str, what: str, params: dict[str, str] | None = None
    ) -> Any:
        return self.ok(await self.call("GET", path, user=user, params=params), what)

    def ok(
        self,
        response: httpx.Response,
        what: str,
        *,
        gone: type[AccountProviderError] = AccountGone,
    ) -> Any:
        """The JSON body of a 2xx answer; otherwise the error the status means."""
        if not response.is_success:
            self.refused(response, gone=gone)
        return self.parse(response, what)

    def parse(self, response: httpx.Response, what: str) -> Any:
        try:
            return json.loads(response.text, parse_float=Decimal, parse_constant=Decimal)
        except ValueError:
            raise ProviderGarbage(NAME, f"{what} is not valid JSON") from None

    def refused(
        self, response: httpx.Response, *, gone: type[AccountProviderError] = AccountGone
    ) -> NoReturn:
        """Raise what a non-2xx answer (other than the transient ones) means."""
        status = response.status_code
        detail, _ = self.error(response)
        if self.partner_refused(response):
            raise ProviderError(
                NAME,
                f"SnapTrade refused Flint's API credentials ({detail}); check the client id, "
                "the consumer key and this server's clock",
            )
        if self.feature_refused(response):
            raise ProviderError(
                NAME, f"SnapTrade has not enabled this for Flint's API key ({detail})"
            )
        if status in (401, 403, 404, 410):
            raise gone(NAME, detail)
        raise ProviderError(NAME, f"unexpected answer (HTTP {status}): {detail}")

    def partner_refused(self, response: httpx.Response) -> bool:
        """Whether SnapTrade refused Flint's own credentials or signature (not the link)."""
        status = response.status_code
        detail, code = self.error(response)
        if status in (400, 401, 403) and code in _PARTNER_AUTH_CODES:
            return True
        return status in (401, 403) and any(w in detail.lower() for w in _PARTNER_AUTH_WORDS)

    def feature_refused(self, response: httpx.Response) -> bool:
        """A 403 that says the feature is not enabled for the key or connection."""
        if response.status_code != httpx.codes.FORBIDDEN:
            return False
        detail, code = self.error(response)
        return code in _FEATURE_CODES or "not enabled" in detail.lower()

    def error(self, response: httpx.Response) -> tuple[str, str]:
        """SnapTrade's message (``detail``, or the spec's ``default_detail``, ``error``) and
        code, or the HTTP status when there is none."""
        try:
            body = json.loads(response.text)
        except ValueError:
            body = None
        detail, code = "", ""
        if isinstance(body, dict):
            for key in ("detail", "default_detail", "error", "message"):
                value = body.get(key)
                if isinstance(value, str) and value.strip():
                    detail = value.strip()[:300]
                    break
            raw_code = body.get("code", body.get("default_code"))
            if isinstance(raw_code, str | int) and not isinstance(raw_code, bool):
                code = str(raw_code)
        return detail or f"HTTP {response.status_code}", code
