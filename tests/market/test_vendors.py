"""What every vendor adapter does alike, each against its own stub: it is a market-data
provider, and transport failures, budgets and the circuit breaker reach it the same way."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from flint.market.providers.errors import ProviderThrottled, ProviderUnavailable
from flint.market.providers.types import (
    HistoryRangeTooLarge,
    Interval,
    MarketDataProvider,
    SymbolNotFound,
)
from tests.market.vendors import ALPHA_VANTAGE, YAHOO, Build, Vendor
from tests.stubs.server import HOLD, StubControl

pytestmark = pytest.mark.waits


@pytest.fixture(scope="module", params=[ALPHA_VANTAGE, YAHOO], ids=lambda vendor: vendor.name)
def vendor(request: pytest.FixtureRequest) -> Vendor:
    chosen: Vendor = request.param
    return chosen


def test_is_a_market_data_provider_without_a_universe(build: Build, vendor: Vendor) -> None:
    provider = build()
    assert isinstance(provider, MarketDataProvider)
    assert provider.name == vendor.name
    assert provider.instrument("AAPL") is None


async def test_unknown_symbol_is_symbol_not_found_and_not_retried(
    build: Build, control: StubControl
) -> None:
    with pytest.raises(SymbolNotFound) as caught:
        await build().history("NOPE", date(2024, 6, 3), date(2024, 6, 7))
    assert caught.value.symbol == "NOPE"
    assert control.count() == 1


@pytest.mark.parametrize("interval", [Interval.M1, Interval.H1])
async def test_intraday_ranges_beyond_the_limit_are_refused_without_a_request(
    build: Build, vendor: Vendor, control: StubControl, interval: Interval
) -> None:
    start = date(2024, 1, 2)
    end = start + timedelta(days=vendor.max_intraday_days[interval])  # one day too many
    with pytest.raises(HistoryRangeTooLarge):
        await build().history(vendor.symbol, start, end, interval)
    assert control.count() == 0


async def test_server_errors_are_retried_then_succeed(
    build: Build, vendor: Vendor, control: StubControl
) -> None:
    control.set("500", times=1)
    assert (await build().quote(vendor.symbol)).price == vendor.price
    assert control.count() == 2


@pytest.mark.parametrize(
    ("scenario", "error"), [("500", ProviderUnavailable), ("429", ProviderThrottled)]
)
async def test_persistent_failures_give_up_after_the_retries(
    build: Build, vendor: Vendor, control: StubControl, scenario: str, error: type[Exception]
) -> None:
    if scenario == "429" and not vendor.throttles_with_429:
        pytest.skip(f"{vendor.name} never answers 429; its in-band throttling has its own tests")
    control.set(scenario)
    with pytest.raises(error):
        await build().quote(vendor.symbol)
    assert control.count() == 2


async def test_slow_answers_time_out(build: Build, vendor: Vendor, control: StubControl) -> None:
    control.set("slow", delay=HOLD)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        await build().quote(vendor.symbol)
    assert control.count() == 2


async def test_budget_refuses_calls_beyond_it_without_a_request(
    build: Build, vendor: Vendor, control: StubControl
) -> None:
    provider = build(rate_limits="2/minute")
    await provider.quote(vendor.symbol)
    await provider.quote(vendor.symbol)
    with pytest.raises(ProviderThrottled):
        await provider.quote(vendor.symbol)
    assert control.count() == 2


async def test_circuit_opens_after_repeated_failures(
    build: Build, vendor: Vendor, control: StubControl
) -> None:
    provider = build(attempts=1, breaker_threshold=2, breaker_recovery=60)
    control.set("500")
    for _ in range(4):
        with pytest.raises(ProviderUnavailable):
            await provider.quote(vendor.symbol)
    assert control.count() == 2
