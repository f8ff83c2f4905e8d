"""Alpha Vantage's wire: one ``/query`` call with the API key, and the errors and throttling the
vendor reports with HTTP 200 raised as exceptions, so they are never read as data."""

from __future__ import annotations

import json
from typing import Any

import httpx
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.kit.http import VendorClient, VendorPolicy
from flint.market.providers.errors import ProviderError, ProviderGarbage, ProviderThrottled
from flint.market.providers.types import SymbolNotFound

NAME = "alpha_vantage"
"""The vendor's name in errors, logs, rate-limit keys and the circuit breaker."""
DEFAULT_BASE_URL = "https://www.alphavantage.co"
DEFAULT_POLICY = VendorPolicy(rate_limits="5/minute;25/day")
"""The free tier's budget; paid keys should pass their own windows."""


class AlphaVantageClient:
    """HTTP to Alpha Vantage with one API key, which goes only into the query string."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str,
        policy: VendorPolicy,
        storage: Storage | None,
        breakers: AsyncCircuitBreakerFactory | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._key = api_key
        self._http = VendorClient(
            NAME, base_url, policy, storage=storage, breakers=breakers, transport=transport
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, params: dict[str, str], symbol: str | None) -> dict[str, Any]:
        """One API call, with Alpha Vantage's in-band errors turned into exceptions."""
        response = await self._http.get("/query", {**params, "apikey": self._key})
        if response.status_code != httpx.codes.OK:
            raise ProviderError(NAME, f"unexpected answer (HTTP {response.status_code})")
        try:
            body = json.loads(response.text)
        except ValueError:
            raise ProviderGarbage(NAME, "the answer is not valid JSON") from None
        if not isinstance(body, dict):
            raise ProviderGarbage(NAME, "the answer is not a JSON object")
        error = body.get("Error Message")
        if error is not None:
            if "apikey" in str(error).lower():
                raise ProviderError(NAME, "the API key was rejected")
            if symbol is not None:
                raise SymbolNotFound(symbol)
            raise ProviderError(NAME, "the request was rejected")
        notice = body.get("Note", body.get("Information"))
        if notice is not None:
            raise _notice(str(notice))
        return body


def _notice(text: str) -> ProviderError:
    """Classify a Note/Information body. The per-second message also names the daily
    limit, so it is checked first."""
    lowered = text.lower()
    if "apikey" in lowered or "api key is invalid" in lowered:
        return ProviderError(NAME, "the API key was rejected")
    if "per second" in lowered:
        return ProviderThrottled(NAME, "too many requests per second", retry_after=1)
    if "per minute" in lowered:
        return ProviderThrottled(NAME, "too many requests per minute", retry_after=60)
    if "per day" in lowered or "daily" in lowered:
        return ProviderThrottled(NAME, "the daily request limit is reached")
    if "premium endpoint" in lowered:
        return ProviderError(NAME, "this data needs a premium Alpha Vantage plan")
    return ProviderThrottled(NAME, "the provider refused the request for now")
