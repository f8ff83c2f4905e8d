"""Alpha Vantage's wire: one ``/query`` call with the API key, and the errors and throttling the
vendor reports with HTTP 200 raised as exceptions, so they are never read as data."""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.kit import vendor_status
from flint.kit.http import VendorClient, VendorPolicy
from flint.market.providers.errors import ProviderError, ProviderGarbage, ProviderThrottled
from flint.market.providers.types import SymbolNotFound

NAME = "alpha_vantage"
"""The vendor's name in errors, logs, rate-limit keys and the circuit breaker."""
DEFAULT_BASE_URL = "https://www.alphavantage.co"
Plan = Literal["free", "premium"]
RATE_LIMITS: dict[Plan, str] = {"free": "1/second;5/minute;25/day", "premium": "75/minute"}
"""Each plan's budget: the free key's 25 a day with its one-per-second burst limit (and the
older keys' 5 a minute); the smallest premium plan's 75 a minute, with no daily limit."""
DEFAULT_POLICY = VendorPolicy(rate_limits=RATE_LIMITS["free"])


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
                raise vendor_status.report(NAME, INVALID_KEY)
            if symbol is not None:
                raise SymbolNotFound(symbol)
            raise ProviderError(NAME, "the request was rejected")
        notice = body.get("Note", body.get("Information"))
        if notice is not None:
            raise notice_error(str(notice))
        vendor_status.clear(NAME)
        return body


INVALID_KEY = "the API key was rejected (FLINT_ALPHA_VANTAGE_API_KEY)"
DEMO_KEY = (
    "the demo API key answers the documentation's examples only (FLINT_ALPHA_VANTAGE_API_KEY)"
)
PREMIUM = "this data needs a premium Alpha Vantage plan"


def notice_error(text: str) -> ProviderError:
    """Classify a ``Note``/``Information`` body, in this order: the key (demo or invalid), the
    per-second burst (its text also names the daily limit and "premium endpoints"), premium
    needed ("This is a premium endpoint", "... is a premium feature for the TIME_SERIES_DAILY
    endpoint", which names a *daily* series but is no quota), the per-minute limit of older
    keys, the daily quota. A key or plan problem is a configuration error that waiting does not
    fix; only the limits are throttling."""
    lowered = " ".join(text.lower().split())
    if "demo" in lowered and "api key" in lowered:
        return vendor_status.report(NAME, DEMO_KEY)
    if "apikey is invalid" in lowered or "api key is invalid" in lowered:
        return vendor_status.report(NAME, INVALID_KEY)
    if "per second" in lowered or "more sparingly" in lowered:
        return ProviderThrottled(NAME, "too many requests per second", retry_after=1)
    if "premium endpoint." in lowered or "is a premium feature" in lowered:
        return ProviderError(NAME, PREMIUM)
    if "per minute" in lowered:
        return ProviderThrottled(NAME, "too many requests per minute", retry_after=60)
    if "per day" in lowered or "daily rate limit" in lowered:
        return ProviderThrottled(NAME, "the daily request limit is reached")
    return ProviderThrottled(NAME, "the provider refused the request for now")
