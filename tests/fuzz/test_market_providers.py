"""The market-data vendors' answers, arbitrary or mutated from recorded ones (the reference
samples), through the real adapters (Yahoo, Alpha Vantage) with only the vendor's HTTP
replaced: each call returns checked data or raises the adapter's own errors (`ProviderError`
and its kinds, `SymbolNotFound`), never KeyError, TypeError, Overflow and the like."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from flint.kit import vendor_status
from flint.kit.http import VendorPolicy
from flint.market.providers.alpha_vantage import AlphaVantageProvider
from flint.market.providers.errors import ProviderError
from flint.market.providers.types import Bar, Interval, Quote, SymbolNotFound
from flint.market.providers.yahoo import YahooProvider
from tests.fuzz.support import fuzz, json_bytes, json_values, mutated_json

SAMPLES = Path(__file__).parent.parent / "stubs" / "samples"
POLICY = VendorPolicy(attempts=1, breaker_threshold=1_000_000, read_timeout=5.0)
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text("utf-8"))


Call = Callable[[Any], Awaitable[object]]


def answer(body: bytes, status: int = 200) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    return httpx.MockTransport(handler)


def run(build: Callable[[httpx.MockTransport], Any], body: bytes, call: Call, status: int) -> None:
    """``call`` on an adapter whose vendor answers ``body``: checked data or its own errors."""

    async def go() -> None:
        provider = build(answer(body, status))
        try:
            result = await call(provider)
        except (ProviderError, SymbolNotFound):
            return
        finally:
            await provider.aclose()
            vendor_status.clear(provider.name)
        for item in result if isinstance(result, list) else [result]:
            if isinstance(item, (Bar, Quote)):
                assert item.timestamp.tzinfo is not None

    asyncio.run(go())


def yahoo(transport: httpx.MockTransport) -> YahooProvider:
    return YahooProvider(
        base_url="https://yahoo.test",
        cookie_url="https://yahoo.test/",
        policy=POLICY,
        transport=transport,
    )


def alpha_vantage(transport: httpx.MockTransport) -> AlphaVantageProvider:
    return AlphaVantageProvider(
        "key", base_url="https://av.test", policy=POLICY, transport=transport, plan="premium"
    )


YAHOO_CALLS: dict[str, Call] = {
    "quote": lambda p: p.quote("AAPL"),
    "daily": lambda p: p.history("AAPL", date(2020, 8, 1), date(2025, 2, 28), now=NOW),
    "weekly": lambda p: p.history(
        "OCDO.L", date(2019, 12, 1), date(2025, 2, 28), Interval.W1, now=NOW
    ),
    "intraday": lambda p: p.history(
        "AAPL", date(2025, 2, 1), date(2025, 2, 7), Interval.M1, now=NOW
    ),
    "search": lambda p: p.search("apple"),
}
YAHOO_SAMPLES = [
    "yahoo_chart_daily_AAPL_split_dividend.json",
    "yahoo_chart_daily_OCDO.L_GBp.json",
    "yahoo_chart_empty_weekend_1m_AAPL.json",
    "yahoo_chart_intraday_1m_AAPL.json",
    "yahoo_chart_error_404_not_found.json",
]
AV_CALLS: dict[str, Call] = {
    "quote": lambda p: p.quote("MSFT", now=NOW),
    "crypto": lambda p: p.quote("BTC-USD", now=NOW),
    "daily": lambda p: p.history("IBM", date(2024, 5, 1), date(2024, 6, 10), now=NOW),
    "monthly": lambda p: p.history(
        "IBM", date(2024, 5, 1), date(2024, 6, 10), Interval.MO1, now=NOW
    ),
    "intraday": lambda p: p.history(
        "IBM", date(2017, 12, 18), date(2017, 12, 18), Interval.M1, now=NOW
    ),
    "search": lambda p: p.search("micro"),
}
AV_SAMPLES = [
    "alphavantage_global_quote.json",
    "alphavantage_time_series_daily_adjusted.json",
    "alphavantage_time_series_intraday_1min.json",
    "alphavantage_symbol_search.json",
    "alphavantage_error_invalid_call.json",
]
STATUS = st.sampled_from([200, 200, 200, 200, 400, 404, 429, 500])


@fuzz(100)
@given(call=st.sampled_from(list(YAHOO_CALLS)), value=json_values, status=STATUS)
def test_yahoo_over_arbitrary_json(call: str, value: Any, status: int) -> None:
    run(yahoo, json_bytes(value), YAHOO_CALLS[call], status)


@fuzz(200)
@given(call=st.sampled_from(list(YAHOO_CALLS)), data=st.data())
def test_yahoo_over_mutated_answers(call: str, data: st.DataObject) -> None:
    recorded = sample(data.draw(st.sampled_from(YAHOO_SAMPLES)))
    run(yahoo, json_bytes(data.draw(mutated_json(recorded, 4))), YAHOO_CALLS[call], 200)


@fuzz(100)
@given(call=st.sampled_from(list(AV_CALLS)), value=json_values, status=STATUS)
def test_alpha_vantage_over_arbitrary_json(call: str, value: Any, status: int) -> None:
    run(alpha_vantage, json_bytes(value), AV_CALLS[call], status)


@fuzz(200)
@given(call=st.sampled_from(list(AV_CALLS)), data=st.data())
def test_alpha_vantage_over_mutated_answers(call: str, data: st.DataObject) -> None:
    recorded = sample(data.draw(st.sampled_from(AV_SAMPLES)))
    run(alpha_vantage, json_bytes(data.draw(mutated_json(recorded, 4))), AV_CALLS[call], 200)


@fuzz(40)
@given(call=st.sampled_from(list(YAHOO_CALLS)), body=st.binary(max_size=100))
def test_yahoo_over_arbitrary_bytes(call: str, body: bytes) -> None:
    run(yahoo, body, YAHOO_CALLS[call], 200)
