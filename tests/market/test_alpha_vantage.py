"""AlphaVantageProvider against the local Alpha Vantage stub (recorded bodies, vendor errors)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from flint.app.ops import vendor_checks
from flint.config import Settings
from flint.kit import vendor_status
from flint.kit.vendor_status import ProviderMisconfigured
from flint.market.providers.alpha_vantage import AlphaVantageProvider
from flint.market.providers.alpha_vantage.client import DEMO_KEY as DEMO
from flint.market.providers.alpha_vantage.client import INVALID_KEY as INVALID
from flint.market.providers.alpha_vantage.client import PREMIUM, notice_error
from flint.market.providers.errors import ProviderError, ProviderGarbage, ProviderThrottled
from flint.market.providers.types import (
    Bar,
    Instrument,
    InstrumentType,
    Interval,
    Quote,
    SymbolNotFound,
)
from tests.market.vendors import ALPHA_VANTAGE, Build, Vendor
from tests.stubs.alpha_vantage import API_KEY, DEMO_KEY, LONG_NEWEST, PREMIUM_KEY, sample
from tests.stubs.server import RunningStub, StubControl

IBM_RANGE = (date(2024, 5, 6), date(2024, 6, 7))


@pytest.fixture(scope="module")
def vendor() -> Vendor:
    return ALPHA_VANTAGE


@pytest.fixture
def av(build: Build) -> AlphaVantageProvider:
    provider: AlphaVantageProvider = build()
    return provider


async def test_quote_is_parsed_exactly_from_global_quote(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    quote = await av.quote("msft")
    assert quote == Quote(
        symbol="MSFT",
        price=Decimal("112.1300"),
        change=Decimal("-0.6600"),
        change_percent=Decimal("-0.5852"),
        open=Decimal("112.6300"),
        high=Decimal("113.1700"),
        low=Decimal("110.6400"),
        previous_close=Decimal("112.7900"),
        volume=29062853,
        currency="USD",
        timestamp=datetime(2018, 10, 5, 20, 0, tzinfo=UTC),  # 16:00 New York, the close
        provider="alpha_vantage",
    )
    assert str(quote.price) == "112.1300"
    assert control.count(function="GLOBAL_QUOTE", symbol="MSFT", apikey=API_KEY) == 1


async def test_quote_during_the_session_is_stamped_now(av: AlphaVantageProvider) -> None:
    now = datetime(2018, 10, 5, 15, 0, tzinfo=UTC)
    assert (await av.quote("MSFT", now=now)).timestamp == now


async def test_empty_global_quote_means_unknown_symbol(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    with pytest.raises(SymbolNotFound) as caught:
        await av.quote("NOPE")
    assert caught.value.symbol == "NOPE"
    assert control.count() == 1


async def test_daily_history_is_parsed_exactly_with_adjusted_closes(
    build: Build, control: StubControl
) -> None:
    bars = await build(PREMIUM_KEY, plan="premium").history("IBM", *IBM_RANGE)
    assert len(bars) == 24
    assert [b.timestamp for b in bars] == sorted(b.timestamp for b in bars)
    assert bars[0] == Bar(
        timestamp=datetime(2024, 5, 6, 13, 30, tzinfo=UTC),  # 09:30 New York
        open=Decimal("166.5"),
        high=Decimal("168.67"),
        low=Decimal("166.38"),
        close=Decimal("168.61"),
        adj_close=Decimal("166.933337501489"),
        volume=4222266,
    )
    dividend_day = next(b for b in bars if b.timestamp.date() == date(2024, 5, 9))
    assert dividend_day.adj_close == dividend_day.close == Decimal("166.27")
    assert bars[-1].high == Decimal("171.305")
    assert control.count(function="TIME_SERIES_DAILY_ADJUSTED", outputsize="full") == 1


async def test_recent_ranges_ask_for_compact_output(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    bars = await av.history(
        "IBM", date(2024, 6, 3), date(2024, 6, 7), now=datetime(2024, 6, 9, tzinfo=UTC)
    )
    assert [b.timestamp.date().day for b in bars] == [3, 4, 5, 6, 7]
    assert control.count(outputsize="compact") == 1


async def test_history_leaves_out_the_session_still_in_progress(
    av: AlphaVantageProvider,
) -> None:
    during = datetime(2024, 6, 7, 18, 0, tzinfo=UTC)  # 14:00 in New York
    bars = await av.history("IBM", date(2024, 6, 3), date(2024, 6, 7), now=during)
    assert bars[-1].timestamp == datetime(2024, 6, 6, 13, 30, tzinfo=UTC)


async def test_the_free_plan_uses_the_free_daily_series(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    bars = await av.history("AAPL", date(2024, 6, 6), date(2024, 6, 7))
    assert [(b.close, b.adj_close, b.volume) for b in bars] == [
        (Decimal("194.48"), Decimal("194.48"), 41181753),
        (Decimal("196.89"), Decimal("196.89"), 53103912),
    ]
    assert control.count(function="TIME_SERIES_DAILY", outputsize="compact") == 1


async def test_weekly_bars_aggregate_whole_monday_to_sunday_weeks(
    av: AlphaVantageProvider,
) -> None:
    daily = await av.history("IBM", date(2024, 5, 6), date(2024, 5, 10))
    [week] = await av.history("IBM", date(2024, 5, 8), date(2024, 5, 8), Interval.W1)
    assert week == Bar(
        timestamp=daily[0].timestamp,
        open=Decimal("166.5"),
        high=max(b.high for b in daily),
        low=min(b.low for b in daily),
        close=Decimal("167.15"),
        adj_close=Decimal("167.15"),
        volume=sum(b.volume for b in daily),
    )


async def test_monthly_bars_cover_calendar_months(av: AlphaVantageProvider) -> None:
    bars = await av.history("IBM", date(2024, 5, 20), date(2024, 6, 1), "1mo")
    assert [(b.timestamp, b.open, b.close) for b in bars] == [
        (datetime(2024, 5, 6, 13, 30, tzinfo=UTC), Decimal("166.5"), Decimal("166.85")),
        (datetime(2024, 6, 3, 13, 30, tzinfo=UTC), Decimal("166.54"), Decimal("170.01")),
    ]


async def test_intraday_times_are_us_eastern_converted_to_utc(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    bars = await av.history("MSFT", date(2017, 12, 18), date(2017, 12, 18), Interval.M1)
    assert len(bars) == 10
    assert bars[-1] == Bar(
        timestamp=datetime(2017, 12, 18, 19, 56, tzinfo=UTC),  # 14:56 EST
        open=Decimal("86.4900"),
        high=Decimal("86.5000"),
        low=Decimal("86.4750"),
        close=Decimal("86.5000"),
        adj_close=Decimal("86.5000"),
        volume=10494,
    )
    assert [b.timestamp.minute for b in bars] == list(range(47, 57))
    assert (
        control.count(
            function="TIME_SERIES_INTRADAY",
            interval="1min",
            month="2017-12",
            extended_hours="false",
        )
        == 1
    )


async def test_crypto_daily_uses_the_digital_currency_series_at_midnight_utc(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    bars = await av.history("BTC-USD", date(2024, 5, 4), date(2024, 5, 6))
    assert [b.timestamp for b in bars] == [datetime(2024, 5, d, tzinfo=UTC) for d in (4, 5, 6)]
    assert bars[-1].close == Decimal("63344.32000000")
    # Flint counts crypto volume in the quote currency: coins x close.
    assert bars[-1].volume == round(Decimal("1204.51827611") * Decimal("63344.32"))
    assert control.count(function="DIGITAL_CURRENCY_DAILY", symbol="BTC", market="USD") == 1


async def test_crypto_in_the_pre_2024_layout_is_read_too(av: AlphaVantageProvider) -> None:
    bars = await av.history("ETH-USD", date(2019, 2, 18), date(2019, 2, 19))
    assert [(b.open, b.close) for b in bars] == [
        (Decimal("132.88000000"), Decimal("143.42000000")),
        (Decimal("143.42000000"), Decimal("146.21000000")),
    ]


async def test_crypto_quote_comes_from_the_latest_two_days(av: AlphaVantageProvider) -> None:
    now = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
    quote = await av.quote("BTC-USD", now=now)
    assert (quote.price, quote.previous_close, quote.change) == (
        Decimal("63344.32000000"),
        Decimal("63890.01000000"),
        Decimal("-545.69000000"),
    )
    assert (quote.change_percent, quote.currency, quote.timestamp) == (Decimal("-0.85"), "USD", now)


async def test_fx_uses_fx_daily_and_has_no_volume(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    bars = await av.history("EURUSD=X", date(2024, 6, 6), date(2024, 6, 7))
    assert [(b.timestamp, b.close, b.volume) for b in bars] == [
        (datetime(2024, 6, 6, tzinfo=UTC), Decimal("1.08950"), 0),
        (datetime(2024, 6, 7, tzinfo=UTC), Decimal("1.08020"), 0),
    ]
    assert control.count(function="FX_DAILY", from_symbol="EUR", to_symbol="USD") == 1


async def test_search_maps_best_matches_in_order(av: AlphaVantageProvider) -> None:
    found = await av.search("BA", limit=4)
    assert found[0] == Instrument(
        symbol="BA",
        name="The Boeing Company",
        type=InstrumentType.EQUITY,
        exchange="United States",
        currency="USD",
    )
    assert [i.symbol for i in found] == ["BA", "BABA", "BSVN", "6190.HKG"]
    assert found[3].currency == "HKD"


async def test_blank_search_asks_nothing(av: AlphaVantageProvider, control: StubControl) -> None:
    assert await av.search("  ") == []
    assert control.count() == 0


@pytest.fixture(autouse=True)
def _no_misconfiguration_left() -> Iterator[None]:
    yield
    vendor_status.clear("alpha_vantage")


async def test_a_rejected_api_key_is_a_configuration_error_not_an_unknown_symbol(
    build: Build, control: StubControl
) -> None:
    with pytest.raises(ProviderMisconfigured) as caught:
        await build("wrong-key").quote("MSFT")
    assert caught.value.reason == "the API key was rejected (FLINT_ALPHA_VANTAGE_API_KEY)"
    assert vendor_status.misconfiguration("alpha_vantage") is not None
    assert control.count() == 1
    await build().quote("MSFT")  # a good key's answer clears it
    assert vendor_status.misconfiguration("alpha_vantage") is None


async def test_the_demo_key_is_a_configuration_error(build: Build, control: StubControl) -> None:
    with pytest.raises(ProviderMisconfigured) as caught:
        await build(DEMO_KEY).quote("MSFT")
    assert "demo API key" in caught.value.reason


@pytest.mark.parametrize(
    ("name", "error", "reason", "retry_after"),
    [
        (
            "alphavantage_note_rate_limit_legacy.json",
            ProviderThrottled,
            "too many requests per minute",
            60,
        ),
        (
            "alphavantage_information_burst_limit.json",
            ProviderThrottled,
            "too many requests per second",
            1,
        ),
        (
            "alphavantage_information_daily_limit.json",
            ProviderThrottled,
            "the daily request limit is reached",
            None,
        ),
        ("alphavantage_information_premium_endpoint.json", ProviderError, PREMIUM, None),
        ("alphavantage_information_premium_outputsize_full.json", ProviderError, PREMIUM, None),
        ("alphavantage_information_demo_key.json", ProviderMisconfigured, DEMO, None),
        ("alphavantage_error_invalid_apikey.json", ProviderMisconfigured, INVALID, None),
    ],
)
def test_every_documented_notice_is_classified_by_its_real_text(
    name: str, error: type[ProviderError], reason: str, retry_after: float | None
) -> None:
    body = sample(name)
    text = body.get("Note", body.get("Information", body.get("Error Message")))
    found = notice_error(str(text))
    assert (type(found), found.reason) == (error, reason)
    assert getattr(found, "retry_after", None) == retry_after


async def test_the_free_plan_never_asks_for_premium_data(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    # A range longer than compact output: the free plan asks compact and refuses the rest.
    since = LONG_NEWEST - timedelta(days=300)
    with pytest.raises(ProviderError) as caught:
        await av.history("SPY", since, LONG_NEWEST, now=datetime(2024, 6, 8, tzinfo=UTC))
    assert not isinstance(caught.value, ProviderThrottled)
    assert "premium" in caught.value.reason
    recent = await av.history(
        "SPY", LONG_NEWEST - timedelta(days=30), LONG_NEWEST, now=datetime(2024, 6, 8, tzinfo=UTC)
    )
    assert len(recent) == 23  # the weekdays of the 31 days
    assert (
        control.count(outputsize="full")
        == control.count(function="TIME_SERIES_DAILY_ADJUSTED")
        == 0
    )


async def test_the_premium_plan_gets_adjusted_full_history(
    build: Build, control: StubControl
) -> None:
    since = LONG_NEWEST - timedelta(days=300)
    bars = await build(PREMIUM_KEY, plan="premium").history(
        "SPY", since, LONG_NEWEST, now=datetime(2024, 6, 8, tzinfo=UTC)
    )
    assert len(bars) > 200
    assert control.count(function="TIME_SERIES_DAILY_ADJUSTED", outputsize="full") == 1


async def test_a_free_key_on_the_premium_plan_is_a_configuration_error(
    build: Build, control: StubControl
) -> None:
    with pytest.raises(ProviderMisconfigured) as caught:
        await build(API_KEY, plan="premium").history("IBM", *IBM_RANGE)
    assert "FLINT_ALPHA_VANTAGE_PLAN" in caught.value.reason
    found = vendor_status.misconfiguration("alpha_vantage")
    assert found is not None
    assert found.reason == caught.value.reason


async def test_the_stub_throttles_in_band_never_with_429(
    control: StubControl, build: Build
) -> None:
    control.set("daily_limit")
    with pytest.raises(ProviderThrottled):
        await build().quote("MSFT")
    assert control.count() == 1  # an HTTP 200 body: not retried as a 429 would be


async def test_premium_only_notice_is_an_error_not_throttling(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    control.set("premium")
    with pytest.raises(ProviderError) as caught:
        await av.history("IBM", *IBM_RANGE)
    assert not isinstance(caught.value, ProviderThrottled)
    assert "premium" in caught.value.reason


async def test_error_message_scenario_raises_symbol_not_found(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    control.set("error_message")
    with pytest.raises(SymbolNotFound):
        await av.history("IBM", *IBM_RANGE)


@pytest.mark.parametrize(
    "scenario", ["html", "truncated", "nan", "negative", "missing", "inverted"]
)
@pytest.mark.parametrize(
    "ask",
    [
        pytest.param(lambda av: av.quote("MSFT"), id="quote"),
        pytest.param(lambda av: av.history("IBM", *IBM_RANGE), id="bars"),
    ],
)
async def test_garbage_quotes_and_bars_are_refused_not_skipped(
    av: AlphaVantageProvider,
    control: StubControl,
    ask: Callable[[AlphaVantageProvider], Awaitable[object]],
    scenario: str,
) -> None:
    control.set(scenario)
    with pytest.raises(ProviderGarbage):
        await ask(av)
    assert control.count() == 1


async def test_garbage_crypto_bars_are_refused(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    control.set("negative")
    with pytest.raises(ProviderGarbage):
        await av.history("BTC-USD", date(2024, 5, 4), date(2024, 5, 6))


async def test_the_premium_notice_for_full_output_is_not_the_daily_limit(
    av: AlphaVantageProvider, control: StubControl
) -> None:
    # The notice names TIME_SERIES_DAILY; it was read as "the daily request limit is reached".
    control.set("premium_full")
    with pytest.raises(ProviderError) as caught:
        await av.history("IBM", *IBM_RANGE)
    assert not isinstance(caught.value, ProviderThrottled)
    assert caught.value.reason == "this data needs a premium Alpha Vantage plan"


async def test_readyz_names_a_rejected_key_until_a_call_succeeds(
    build: Build, stub: RunningStub
) -> None:
    settings = Settings(
        market_providers=["alpha_vantage"],
        alpha_vantage_api_key=SecretStr("wrong-key"),
        alpha_vantage_base_url=stub.url,
    )
    assert vendor_checks(settings)["market:alpha_vantage"].status == "ok"
    with pytest.raises(ProviderMisconfigured):
        await build("wrong-key").quote("MSFT")
    check = vendor_checks(settings)["market:alpha_vantage"]
    assert (check.status, check.required) == ("error", False)
    assert check.detail == f"configuration refused: {INVALID}"
    await build().quote("MSFT")
    assert vendor_checks(settings)["market:alpha_vantage"].status == "ok"
