"""Which days a portfolio is valued on, and what is annualised: a custom asset keeps its own
calendar (every day its owner gives a price for, through the end asked for), a ledger of cash
alone is valued every calendar day, the answer does not depend on what the price cache holds,
and only windows of a year or more are annualised."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from flint.portfolio import prices
from tests.conftest import Account

PORTFOLIO = "/api/v1/portfolio"
ASSETS = "/api/v1/assets"


async def new_portfolio(
    client: httpx.AsyncClient,
    who: Account,
    transactions: list[dict[str, str]],
    lots: list[dict[str, str]] | None = None,
) -> str:
    created = await client.post(
        f"{PORTFOLIO}/", json={"name": "Days", "assets": lots or []}, headers=who.headers
    )
    assert created.status_code == 201, created.text
    portfolio_id: str = created.json()["portfolioId"]
    for body in transactions:
        added = await client.post(
            f"{PORTFOLIO}/{portfolio_id}/transactions", json=body, headers=who.headers
        )
        assert added.status_code == 201, added.text
    return portfolio_id


async def performance_of(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, **params: str
) -> httpx.Response:
    response = await client.get(
        f"{PORTFOLIO}/{portfolio_id}/performance", params=params, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return response


async def custom_asset(
    client: httpx.AsyncClient, who: Account, symbol: str, currency: str, given: dict[date, str]
) -> None:
    body = {"symbol": symbol, "name": symbol, "currency": currency, "assetClass": "collectible"}
    created = await client.post(ASSETS, json=body, headers=who.headers)
    assert created.status_code == 201, created.text
    points = [{"date": day.isoformat(), "price": price} for day, price in given.items()]
    written = await client.put(f"{ASSETS}/{symbol}/prices", json=points, headers=who.headers)
    assert written.status_code == 200, written.text


async def test_a_custom_asset_is_valued_on_the_days_its_owner_gives_prices_through_as_of(
    client: httpx.AsyncClient, alice: Account
) -> None:
    friday, saturday, sunday = date(2021, 12, 10), date(2021, 12, 11), date(2021, 12, 12)
    end = date(2021, 12, 18)  # a Saturday, with a price of its own
    await custom_asset(
        client,
        alice,
        "MY:BOAT",
        "USD",
        {friday: "100", saturday: "110", sunday: "120", date(2021, 12, 15): "125", end: "130"},
    )
    buy = {"date": sunday.isoformat(), "type": "buy", "symbol": "MY:BOAT"}
    portfolio_id = await new_portfolio(client, alice, [{**buy, "quantity": "1", "price": "120"}])
    perf = (await performance_of(client, alice, portfolio_id, end=end.isoformat())).json()

    assert perf["asOf"] == end.isoformat()
    values = {point["date"]: point["value"] for point in perf["series"]}
    # Sunday's buy is valued at Sunday's price, Saturday's price counts, the series ends on asOf.
    assert values == {"2021-12-12": "120.00", "2021-12-15": "125.00", "2021-12-18": "130.00"}
    assert perf["marketValue"] == "130.00"
    assert perf["holdings"][0]["price"] == "130.00"
    assert perf["twr"] == pytest.approx(130 / 120 - 1, rel=1e-15)


async def test_listed_and_custom_holdings_are_valued_on_the_union_of_their_days(
    client: httpx.AsyncClient, alice: Account
) -> None:
    saturday = date(2021, 12, 11)
    await custom_asset(client, alice, "MY:CAR", "USD", {saturday: "50", date(2021, 12, 19): "55"})
    portfolio_id = await new_portfolio(
        client,
        alice,
        [
            {
                "date": "2021-12-06",
                "type": "buy",
                "symbol": "AAPL",
                "quantity": "1",
                "price": "170",
            },
            {
                "date": saturday.isoformat(),
                "type": "buy",
                "symbol": "MY:CAR",
                "quantity": "2",
                "price": "50",
            },
        ],
    )
    perf = (await performance_of(client, alice, portfolio_id, end="2021-12-19")).json()
    days = [point["date"] for point in perf["series"]]
    sessions = ["2021-12-06", "2021-12-07", "2021-12-08", "2021-12-09", "2021-12-10"]
    assert days == [*sessions, "2021-12-11", "2021-12-13", "2021-12-14", "2021-12-15",
                    "2021-12-16", "2021-12-17", "2021-12-19"]  # fmt: skip


async def test_a_ledger_of_cash_alone_is_valued_every_day_and_a_short_window_not_annualised(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = date(2024, 3, 1)
    end = first + timedelta(days=30)
    portfolio_id = await new_portfolio(
        client,
        alice,
        [
            {"date": first.isoformat(), "type": "deposit", "amount": "10000"},
            {"date": (first + timedelta(days=20)).isoformat(), "type": "interest", "amount": "50"},
        ],
    )
    perf = (await performance_of(client, alice, portfolio_id, end=end.isoformat())).json()
    days = [point["date"] for point in perf["series"]]
    assert days == [(first + timedelta(days=i)).isoformat() for i in range(31)]
    assert perf["twr"] == pytest.approx(0.005, rel=1e-12)
    assert perf["annualizedReturn"] is None  # a month is not a year
    assert perf["alpha"] is None


async def test_a_first_day_worth_exactly_its_deposit_shows_a_return_of_zero(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The demo's first day: 1,000.00 deposited and spent on four funds at the day's closes,
    worth 1,000.00 that evening, showed a daily and cumulative return of -1.1e-16 (the float
    sum behind it)."""
    day = "2023-12-06"
    buys = [("VTI", "1.8551", "269.52"), ("BND", "2.8835", "69.36")]
    buys += [("AAPL", "0.4567", "328.40"), ("MSFT", "0.4647", "322.77")]
    portfolio_id = await new_portfolio(
        client,
        alice,
        [{"date": day, "type": "deposit", "amount": "1000"}]
        + [
            {"date": day, "type": "buy", "symbol": s, "quantity": q, "price": p} for s, q, p in buys
        ],
    )

    perf = (await performance_of(client, alice, portfolio_id, end="2023-12-08")).json()

    first, second = perf["series"][:2]
    assert (first["date"], first["value"], first["netFlow"]) == (day, "1000.00", "1000.00")
    assert (first["dailyReturn"], first["cumulativeReturn"]) == (0.0, 0.0)
    assert second["dailyReturn"] == pytest.approx(second["cumulativeReturn"], abs=1e-15)
    assert second["dailyReturn"] != 0.0


async def test_only_windows_of_a_year_or_more_are_annualised(
    client: httpx.AsyncClient, alice: Account
) -> None:
    lot = {"symbol": "AAPL", "quantity": "10", "purchasePrice": "150", "purchaseDate": "2022-01-03"}
    portfolio_id = await new_portfolio(client, alice, [], [lot])
    one_day = (
        await performance_of(client, alice, portfolio_id, start="2023-06-02", end="2023-06-02")
    ).json()
    assert one_day["twr"] is not None
    assert one_day["annualizedReturn"] is None
    assert one_day["alpha"] is None

    years = (
        await performance_of(client, alice, portfolio_id, start="2022-01-03", end="2024-01-03")
    ).json()
    series = years["series"]
    span = (date.fromisoformat(series[-1]["date"]) - date.fromisoformat(series[0]["date"])).days
    assert years["annualizedReturn"] == pytest.approx(
        (1 + years["twr"]) ** (365 / (span + 1)) - 1, rel=1e-12
    )
    assert years["alpha"] is not None


def ledger_from(first: date) -> list[dict[str, str]]:
    """A deposit, an equity, a coin and a EUR custom asset, all bought on ``first``."""
    day = first.isoformat()
    return [
        {"date": day, "type": "deposit", "amount": "5000"},
        {"date": day, "type": "buy", "symbol": "AAPL", "quantity": "3", "price": "190.5"},
        {"date": day, "type": "buy", "symbol": "BTC-USD", "quantity": "0.01", "price": "60000"},
        {"date": day, "type": "buy", "symbol": "MY:FLAT", "quantity": "1", "price": "1000"},
    ]


@pytest.mark.parametrize(
    "first",
    [date(2025, 6, 7), date(2025, 6, 8), date(2025, 7, 4), date(2024, 12, 25)],
    ids=["saturday", "sunday", "independence-day", "christmas"],
)
async def test_the_same_request_gives_the_same_bytes_on_a_cold_and_a_warm_price_cache(
    client: httpx.AsyncClient, alice: Account, first: date
) -> None:
    await custom_asset(client, alice, "MY:FLAT", "EUR", {first - timedelta(days=300): "1000"})
    end = (first + timedelta(days=30)).isoformat()
    prices.clear()
    cold = await new_portfolio(client, alice, ledger_from(first))
    cold_answer = (await performance_of(client, alice, cold, end=end)).content

    # Another portfolio, from earlier, fills the cache with more history of the same symbols.
    earlier = await new_portfolio(client, alice, ledger_from(first - timedelta(days=200)))
    await performance_of(client, alice, earlier, end=end)
    warm = await new_portfolio(client, alice, ledger_from(first))
    warm_answer = (await performance_of(client, alice, warm, end=end)).content
    assert warm_answer == cold_answer

    answer: dict[str, Any] = httpx.Response(200, content=cold_answer).json()
    assert answer["series"][0]["date"] == first.isoformat()
