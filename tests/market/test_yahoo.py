"""YahooProvider against the local Yahoo stub (recorded charts, vendor failures)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest

from flint.market.providers.errors import ProviderError, ProviderGarbage
from flint.market.providers.types import (
    Bar,
    Instrument,
    InstrumentType,
    Interval,
    Quote,
)
from flint.market.providers.yahoo import USER_AGENT, YahooProvider
from tests.market.vendors import YAHOO, Build, Vendor
from tests.stubs.server import RunningStub, StubControl
from tests.stubs.yahoo import YahooControl

AAPL_RANGE = (date(2020, 8, 31), date(2020, 11, 6))


@pytest.fixture(scope="module")
def vendor() -> Vendor:
    return YAHOO


@pytest.fixture
def yahoo(build: Build) -> YahooProvider:
    provider: YahooProvider = build()
    return provider


async def test_daily_chart_is_parsed_to_the_decimals_yahoo_meant(
    yahoo: YahooProvider, control: StubControl
) -> None:
    bars = await yahoo.history("AAPL", *AAPL_RANGE)
    assert len(bars) == 49
    # Recorded as 127.58000183105469, 131, 126, 129.0399932861328, 125.82673645019531.
    assert bars[0] == Bar(
        timestamp=datetime(2020, 8, 31, 13, 30, tzinfo=UTC),  # the NYSE open
        open=Decimal("127.58"),
        high=Decimal("131"),
        low=Decimal("126"),
        close=Decimal("129.04"),
        adj_close=Decimal("125.82674"),
        volume=225702700,
    )
    assert (bars[-1].close, bars[-1].adj_close) == (Decimal("118.69"), Decimal("115.93415"))
    [seen] = control.requests
    assert seen.path == "/v8/finance/chart/AAPL"
    assert (seen.params["interval"], seen.params["includePrePost"]) == ("1d", "false")
    assert seen.headers["user-agent"] == USER_AGENT


async def test_history_keeps_only_the_asked_dates(yahoo: YahooProvider) -> None:
    bars = await yahoo.history("AAPL", date(2020, 9, 1), date(2020, 9, 2))
    assert [b.timestamp for b in bars] == [
        datetime(2020, 9, 1, 13, 30, tzinfo=UTC),
        datetime(2020, 9, 2, 13, 30, tzinfo=UTC),
    ]


async def test_london_listing_keeps_pence_and_the_london_open(yahoo: YahooProvider) -> None:
    [bar] = await yahoo.history("OCDO.L", date(2020, 1, 1), date(2020, 1, 3))
    assert bar == Bar(
        timestamp=datetime(2020, 1, 2, 8, 0, tzinfo=UTC),
        open=Decimal("1279.5"),
        high=Decimal("1286.57"),
        low=Decimal("1258"),
        close=Decimal("1259.5"),
        adj_close=Decimal("1259.5"),
        volume=728520,
    )


async def test_intraday_bars_keep_yahoo_start_times(yahoo: YahooProvider) -> None:
    bars = await yahoo.history("AAPL", date(2024, 10, 2), date(2024, 10, 2), Interval.M1)
    assert len(bars) == 10
    assert [b.timestamp.minute for b in bars] == list(range(30, 40))
    assert bars[0].timestamp == datetime(2024, 10, 2, 13, 30, tzinfo=UTC)
    assert (bars[0].open, bars[2].open) == (Decimal("225.89"), Decimal("225.965"))
    assert all(b.adj_close == b.close for b in bars)


async def test_an_empty_window_has_no_bars(yahoo: YahooProvider) -> None:
    weekend = (date(2024, 10, 5), date(2024, 10, 6))
    assert await yahoo.history("AAPL", *weekend, Interval.M1) == []


async def test_crypto_days_are_stamped_at_midnight_utc(yahoo: YahooProvider) -> None:
    bars = await yahoo.history("BTC-USD", date(2024, 3, 1), date(2024, 3, 3))
    assert [b.timestamp for b in bars] == [datetime(2024, 3, d, tzinfo=UTC) for d in (1, 2, 3)]


async def test_fx_days_stamped_at_london_midnight_move_to_midnight_utc(
    yahoo: YahooProvider,
) -> None:
    bars = await yahoo.history("EURUSD=X", date(2024, 7, 1), date(2024, 7, 5))
    assert [b.timestamp for b in bars] == [datetime(2024, 7, d, tzinfo=UTC) for d in range(1, 6)]
    assert {b.volume for b in bars} == {0}


async def test_weekly_bars_aggregate_daily_ones(yahoo: YahooProvider) -> None:
    daily = await yahoo.history("MSFT", date(2024, 3, 4), date(2024, 3, 8))
    [week] = await yahoo.history("MSFT", date(2024, 3, 6), date(2024, 3, 6), Interval.W1)
    assert len(daily) == 5
    assert week == Bar(
        timestamp=datetime(2024, 3, 4, 14, 30, tzinfo=UTC),
        open=daily[0].open,
        high=max(b.high for b in daily),
        low=min(b.low for b in daily),
        close=daily[-1].close,
        adj_close=daily[-1].adj_close,
        volume=sum(b.volume for b in daily),
    )


async def test_history_leaves_out_the_session_still_in_progress(yahoo: YahooProvider) -> None:
    during = datetime(2024, 3, 8, 18, 0, tzinfo=UTC)
    bars = await yahoo.history("MSFT", date(2024, 3, 4), date(2024, 3, 8), now=during)
    assert bars[-1].timestamp == datetime(2024, 3, 7, 14, 30, tzinfo=UTC)


async def test_quote_comes_from_chart_meta_and_the_days_bar(
    yahoo: YahooProvider, control: StubControl
) -> None:
    quote = await yahoo.quote("aapl")
    assert quote == Quote(
        symbol="AAPL",
        price=Decimal("118.69"),
        change=Decimal("-0.34"),
        change_percent=Decimal("-0.29"),
        open=Decimal("118.32"),
        high=Decimal("119.2"),
        low=Decimal("116.13"),
        previous_close=Decimal("119.03"),
        volume=114457900,
        currency="USD",
        timestamp=datetime(2020, 11, 6, 21, 0, tzinfo=UTC),
        provider="yahoo",
    )
    assert control.count(range="1d", interval="1d") == 1


async def test_bars_with_nulls_are_skipped_not_refused(
    yahoo: YahooProvider, control: StubControl
) -> None:
    control.set("nulls")
    bars = await yahoo.history("AAPL", *AAPL_RANGE)
    assert len(bars) == 48
    assert bars[0].timestamp.date() == date(2020, 9, 1)


@pytest.mark.parametrize(
    "scenario", ["nan", "negative", "missing", "inverted", "html", "truncated"]
)
async def test_garbage_charts_are_refused(
    yahoo: YahooProvider, control: StubControl, scenario: str
) -> None:
    control.set(scenario)
    with pytest.raises(ProviderGarbage):
        await yahoo.history("AAPL", *AAPL_RANGE)
    assert control.count() == 1


@pytest.mark.parametrize("scenario", ["nan", "negative", "no_price", "html"])
async def test_garbage_quotes_are_refused(
    yahoo: YahooProvider, control: StubControl, scenario: str
) -> None:
    control.set(scenario)
    with pytest.raises(ProviderGarbage):
        await yahoo.quote("AAPL")


async def test_other_chart_errors_are_provider_errors_and_not_retried(
    yahoo: YahooProvider, control: StubControl
) -> None:
    control.set("unprocessable")
    with pytest.raises(ProviderError) as caught:
        await yahoo.history("AAPL", *AAPL_RANGE)
    assert type(caught.value) is ProviderError
    assert caught.value.reason == "the request was refused (Unprocessable Entity)"
    assert control.count() == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "apple",
            [
                Instrument("AAPL", "Apple Inc.", InstrumentType.EQUITY, "NMS", "USD", "Technology"),
            ],
        ),
        ("btc", [Instrument("BTC-USD", "Bitcoin USD", InstrumentType.CRYPTO, "CCC", "USD")]),
        ("eurusd", [Instrument("EURUSD=X", "EUR/USD", InstrumentType.FX, "CCY", "USD")]),
        (
            "s&p 500",
            [
                Instrument("^GSPC", "S&P 500", InstrumentType.INDEX, "SNP", ""),
                Instrument("SPY", "SPDR S&P 500 ETF Trust", InstrumentType.ETF, "PCX", "USD"),
            ],
        ),
        (
            "vanguard",
            [
                Instrument(
                    "VFIAX",
                    "Vanguard 500 Index Fund Admiral Shares",
                    InstrumentType.FUND,
                    "NAS",
                    "USD",
                )
            ],
        ),
    ],
)
async def test_search_maps_quote_types(
    yahoo: YahooProvider, query: str, expected: list[Instrument]
) -> None:
    assert await yahoo.search(query) == expected


async def test_search_leaves_out_kinds_flint_does_not_model(
    yahoo: YahooProvider, control: StubControl
) -> None:
    found = await yahoo.search("aapl")
    assert [i.symbol for i in found] == ["AAPL"]
    assert control.count(q="aapl", quotesCount="10") == 1


# --- what Yahoo asks of a client: a browser's User-Agent, the cookie and crumb, patience ------


@pytest.mark.parametrize(
    ("agent", "status"),
    [
        ("Mozilla/5.0 (compatible; Flint market data)", 429),  # Flint's old one: a bot's
        ("python-httpx/0.28.1", 429),
        (USER_AGENT, 200),
    ],
)
async def test_the_stub_refuses_user_agents_that_are_not_a_browsers(
    stub: RunningStub, agent: str, status: int
) -> None:
    async with httpx.AsyncClient(base_url=stub.url) as client:
        response = await client.get(
            "/v8/finance/chart/AAPL", params={"range": "1d"}, headers={"User-Agent": agent}
        )
    assert response.status_code == status


async def test_when_yahoo_asks_for_a_crumb_the_handshake_is_made_and_the_call_retried_once(
    yahoo: YahooProvider, control: YahooControl
) -> None:
    control.crumb_required = True
    bars = await yahoo.history("AAPL", *AAPL_RANGE)
    assert len(bars) == 49
    paths = [seen.path for seen in control.requests]
    assert paths == ["/v8/finance/chart/AAPL", "/", "/v1/test/getcrumb", "/v8/finance/chart/AAPL"]
    last = control.requests[-1]
    assert last.params["crumb"] == control.crumbs[next(iter(control.crumbs))]
    assert "A3=" in last.headers["cookie"]

    await yahoo.quote("AAPL")  # the crumb is kept: one request
    assert len(control.requests) == 5
    assert control.requests[-1].params["crumb"] == last.params["crumb"]


async def test_a_crumb_yahoo_stopped_accepting_is_fetched_again(
    yahoo: YahooProvider, control: YahooControl
) -> None:
    control.crumb_required = True
    await yahoo.quote("AAPL")
    control.expire_crumbs()
    control.requests.clear()
    assert (await yahoo.quote("AAPL")).symbol == "AAPL"
    paths = [seen.path for seen in control.requests]
    assert paths == ["/v8/finance/chart/AAPL", "/", "/v1/test/getcrumb", "/v8/finance/chart/AAPL"]


async def test_a_401_is_an_authentication_refusal_not_garbage(
    yahoo: YahooProvider, control: YahooControl
) -> None:
    control.crumb_required = control.crumb_broken = True
    with pytest.raises(ProviderError) as caught:
        await yahoo.history("AAPL", *AAPL_RANGE)
    assert not isinstance(caught.value, ProviderGarbage)
    assert "crumb" in caught.value.reason
    assert "HTTP 401" in caught.value.reason
    assert control.count() == 3  # the chart, the cookie, the crumb: no loop


async def test_a_429_is_retried_after_a_backoff(
    yahoo: YahooProvider, control: YahooControl
) -> None:
    control.set("429", times=1)
    assert (await yahoo.quote("AAPL")).symbol == "AAPL"
    assert control.count() == 2
