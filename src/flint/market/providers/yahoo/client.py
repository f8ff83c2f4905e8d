"""Yahoo's wire: the chart and search calls, Yahoo's ``chart.error`` and HTTP failures raised
as Flint's errors, and bodies read with every JSON number kept as the Decimal of its text."""

from __future__ import annotations

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
USER_AGENT = "Mozilla/5.0 (compatible; Flint market data)"


class YahooClient:
    """HTTP to Yahoo Finance's chart and search endpoints."""

    def __init__(
        self,
        *,
        base_url: str,
        policy: VendorPolicy,
        storage: Storage | None,
        breakers: AsyncCircuitBreakerFactory | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
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
        return _json(await self._http.get("/v1/finance/search", params))

    async def chart(self, symbol: str, params: dict[str, str]) -> dict[str, Any]:
        """The single ``chart.result`` entry; Yahoo's ``chart.error`` becomes an exception."""
        response = await self._http.get(f"/v8/finance/chart/{quote_path(symbol, safe='')}", params)
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
