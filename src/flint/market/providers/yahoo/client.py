"""Yahoo's wire: the chart and search calls, Yahoo's ``chart.error`` and HTTP failures raised
as Flint's errors, and bodies read with every JSON number kept as the Decimal of its text."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote as quote_path

import httpx
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.kit.http import VendorClient, VendorPolicy
from flint.market.providers.errors import ProviderError, ProviderGarbage
from flint.market.providers.types import SymbolNotFound

NAME = "yahoo"
"""The vendor's name in errors, logs, rate-limit keys and the circuit breaker."""
DEFAULT_BASE_URL = "https://query1.finance.yahoo.com"
DEFAULT_POLICY = VendorPolicy(rate_limits="60/minute;1500/hour")
"""Yahoo publishes no limits; this stays well under the rates known to trigger its 429s."""
DEFAULT_COOKIE_URL = "https://fc.yahoo.com"
"""Where Yahoo's session cookie comes from (a 404 page that sets ``A3``)."""
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
"""A browser's: Yahoo answers clients it takes for scripts or bots with 429s."""


class YahooClient:
    """HTTP to Yahoo Finance's chart and search endpoints, with Yahoo's cookie-and-crumb
    handshake when it asks for one: a 401 "Invalid Crumb" fetches the session cookie
    (``cookie_url``) and a crumb (``/v1/test/getcrumb``), then retries the call once with
    ``crumb=``; later calls carry the crumb until Yahoo refuses it again. A 401 that survives
    the handshake is an authentication refusal (ProviderError), never garbage. 429s are retried
    with backoff (and Retry-After) by the vendor client, then ProviderThrottled."""

    def __init__(
        self,
        *,
        base_url: str,
        cookie_url: str,
        policy: VendorPolicy,
        storage: Storage | None,
        breakers: AsyncCircuitBreakerFactory | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._cookie_url = cookie_url
        self._crumb: str | None = None
        self._handshake_lock = asyncio.Lock()
        self._http = VendorClient(
            NAME,
            base_url,
            policy,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            storage=storage,
            breakers=breakers,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def search(self, params: dict[str, str]) -> dict[str, Any]:
        """The ``/v1/finance/search`` answer."""
        return _json(await self._get("/v1/finance/search", params))

    async def chart(self, symbol: str, params: dict[str, str]) -> dict[str, Any]:
        """The single ``chart.result`` entry; Yahoo's ``chart.error`` becomes an exception."""
        response = await self._get(f"/v8/finance/chart/{quote_path(symbol, safe='')}", params)
        body = _json(response)
        chart = body.get("chart")
        if not isinstance(chart, dict):
            raise ProviderGarbage(NAME, "the answer has no 'chart'")
        error = chart.get("error")
        if error:
            code = error.get("code") if isinstance(error, dict) else None
            if code == "Not Found":
                raise SymbolNotFound(symbol)
            raise ProviderError(NAME, f"the request was refused ({str(code)[:40]})")
        if response.status_code != httpx.codes.OK:
            raise ProviderError(NAME, f"unexpected answer (HTTP {response.status_code})")
        results = chart.get("result")
        if not isinstance(results, list) or not results or not isinstance(results[0], dict):
            raise ProviderGarbage(NAME, "the chart has no result")
        result: dict[str, Any] = results[0]
        return result

    async def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        """GET with the crumb once Yahoo has asked for one; on a 401 the handshake is done (or
        redone) and the call made once more. A second 401 is an authentication refusal."""
        crumb = self._crumb
        response = await self._http.get(path, _with_crumb(params, crumb))
        if response.status_code != httpx.codes.UNAUTHORIZED:
            return response
        crumb = await self._handshake(stale=crumb)
        response = await self._http.get(path, _with_crumb(params, crumb))
        if response.status_code == httpx.codes.UNAUTHORIZED:
            self._crumb = None
            raise ProviderError(NAME, f"Yahoo refused the session ({_unauthorized(response)})")
        return response

    async def _handshake(self, stale: str | None) -> str:
        """A fresh cookie and crumb; callers that waited for another's handshake reuse its
        crumb rather than fetching one more."""
        async with self._handshake_lock:
            if self._crumb is not None and self._crumb != stale:
                return self._crumb
            await self._http.get(self._cookie_url)  # any answer: it is the cookie that counts
            answer = await self._http.get("/v1/test/getcrumb")
            crumb = answer.text.strip() if answer.status_code == httpx.codes.OK else ""
            if not crumb or len(crumb) > 100 or crumb.startswith(("{", "<")):
                reason = _unauthorized(answer) if answer.status_code != 200 else "empty answer"
                raise ProviderError(NAME, f"Yahoo gave no crumb ({reason})")
            self._crumb = crumb
            return crumb


def _with_crumb(params: dict[str, str], crumb: str | None) -> dict[str, str]:
    return {**params, "crumb": crumb} if crumb else params


def _unauthorized(response: httpx.Response) -> str:
    """Yahoo's ``finance.error.description`` (e.g. "Invalid Crumb"), or the status."""
    try:
        error = json.loads(response.text)["finance"]["error"]
        description = error.get("description") if isinstance(error, dict) else None
    except (ValueError, KeyError, TypeError):
        description = None
    if isinstance(description, str) and description.strip():
        return f"HTTP {response.status_code}: {description.strip()[:80]}"
    return f"HTTP {response.status_code}"


def _loads(text: str) -> Any:
    """JSON with every non-integer number as a Decimal of its text (NaN too, for the checks)."""
    return json.loads(text, parse_float=Decimal, parse_constant=Decimal)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = _loads(response.text)
    except ValueError:
        if response.status_code != httpx.codes.OK:
            raise ProviderError(NAME, f"unexpected answer (HTTP {response.status_code})") from None
        raise ProviderGarbage(NAME, "the answer is not valid JSON") from None
    if not isinstance(body, dict):
        raise ProviderGarbage(NAME, "the answer is not a JSON object")
    return body
