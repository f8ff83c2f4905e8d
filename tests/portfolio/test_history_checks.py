"""A listed symbol cannot be bought before it has data: the first daily close the market data
service knows (the simulated market starts in 1970); and the closes performance needs stored
before it values a holding."""

from __future__ import annotations

from datetime import UTC, date, datetime
from unittest.mock import patch

import httpx

from flint.market.api import Instrument, InstrumentType
from flint.portfolio import performance
from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/portfolio"


def lot(symbol: str, day: str) -> dict[str, str]:
    return {"symbol": symbol, "quantity": "1", "purchasePrice": "10", "purchaseDate": day}


async def test_buys_before_a_symbol_has_data_are_refused_naming_each_row(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = {
        "name": "Time travel",
        "assets": [
            lot("AAPL", "2020-03-02"),
            lot("AAPL", "1965-06-01"),
            lot("MSFT", "1969-12-31"),
            lot("MSFT", "1971-03-01"),
            lot("AAPL", "1969-07-21"),
        ],
    }
    refused = await client.post(f"{V1}/", json=body, headers=alice.headers)
    problem = assert_problem(refused, 422)
    assert error_fields(problem) == {
        "body.assets[1].purchaseDate",
        "body.assets[2].purchaseDate",
        "body.assets[4].purchaseDate",
    }
    assert "AAPL has no price on or before 1965-06-01" in problem["detail"]
    assert (await client.get(f"{V1}/", headers=alice.headers)).json()["portfolios"] == []


async def test_a_buy_on_a_weekend_after_the_first_close_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = {"name": "Early", "assets": [lot("AAPL", "1970-01-03"), lot("BTC-USD", "2021-01-01")]}
    created = await client.post(f"{V1}/", json=body, headers=alice.headers)
    assert created.status_code == 201, created.text


async def test_a_transaction_before_data_is_refused_and_the_ledger_is_unchanged(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(f"{V1}/", json={"name": "Ledger"}, headers=alice.headers)
    portfolio_id = created.json()["portfolioId"]
    buy = {"date": "1960-01-04", "type": "buy", "symbol": "SPY", "quantity": "1", "price": "5"}
    refused = await client.post(
        f"{V1}/{portfolio_id}/transactions", json=buy, headers=alice.headers
    )
    assert error_fields(assert_problem(refused, 422)) == {"body.date"}
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json()["transactions"] == []


# A symbol bought on a day whose session has not closed (today while the exchange is open, or a
# weekend) is valued at the close before it until its own session closes: performance must
# have that close stored, or it values the holding at whatever older close storage happens to
# keep (the final market value went wrong during New York trading hours).


def expected_on(now: datetime, start: date, end: date, kind: InstrumentType) -> list[date]:
    instrument = Instrument(symbol="X", name="X", type=kind, currency="USD", exchange="X")
    with patch.object(performance, "utcnow", return_value=now):
        sessions = performance._Sessions(start, end)
    return [day.astype(date) for day in sessions.expected(instrument, start, end)]


def test_a_buy_today_while_the_exchange_is_open_needs_the_last_close() -> None:
    during = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # a Wednesday, NYSE open since 14:30
    today = date(2026, 12, 2)
    assert expected_on(during, today, today, InstrumentType.EQUITY) == [date(2026, 12, 1)]
    after = datetime(2026, 12, 2, 21, 30, tzinfo=UTC)  # closed: its own close values it
    assert expected_on(after, today, today, InstrumentType.EQUITY) == [today]


def test_a_weekend_buy_needs_the_friday_close_and_a_session_day_needs_nothing_earlier() -> None:
    now = datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    saturday, monday = date(2026, 11, 28), date(2026, 11, 30)
    assert expected_on(now, saturday, monday, InstrumentType.EQUITY) == [
        date(2026, 11, 27),
        monday,
    ]
    assert expected_on(now, monday, monday, InstrumentType.EQUITY) == [monday]
    # Crypto trades every day: Saturday is a session of its own.
    assert expected_on(now, saturday, saturday, InstrumentType.CRYPTO) == [saturday]
