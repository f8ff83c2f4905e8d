"""The ledger's rules on write and in valuation: every amount in its own currency (converted at
its day's rate), base currencies the market can convert, withdrawals the cash can pay, dates
from 1900 to today, dividends only on positions held."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import httpx
import pytest

from flint.kit.time import utcnow
from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/portfolio"
HISTORY = "/api/v1/market/historical"
CSV = {"Content-Type": "text/csv"}


def cents(value: Decimal) -> str:
    """Money in US dollars or euros as the API writes it: to the cent, half to even."""
    return format(value.quantize(Decimal("0.01"), ROUND_HALF_EVEN), "f")


def weekday(days_ago: int) -> date:
    """A Wednesday about ``days_ago`` days back (every market has a session then)."""
    day = utcnow().date() - timedelta(days=days_ago)
    return day - timedelta(days=(day.weekday() - 2) % 7)


async def rate_on(client: httpx.AsyncClient, who: Account, pair: str, day: date) -> Decimal:
    """The pair's last close on or before ``day``, from the market's own history (as stored:
    the amounts convert at it exactly)."""
    response = await client.get(
        f"{HISTORY}/{pair}",
        params={"start": str(day - timedelta(days=10)), "end": str(day)},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    closes = {bar["timestamp"][:10]: bar["close"] for bar in response.json()["bars"]}
    return Decimal(closes[max(d for d in closes if d <= str(day))])


async def new_portfolio(client: httpx.AsyncClient, who: Account, **fields: Any) -> str:
    created = await client.post(f"{V1}/", json={"name": "Ledger", **fields}, headers=who.headers)
    assert created.status_code == 201, created.text
    portfolio_id: str = created.json()["portfolioId"]
    return portfolio_id


async def record(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, **row: Any
) -> httpx.Response:
    body = {key: str(value) for key, value in row.items()}
    return await client.post(f"{V1}/{portfolio_id}/transactions", json=body, headers=who.headers)


async def performance(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, **query: str
) -> dict[str, Any]:
    response = await client.get(
        f"{V1}/{portfolio_id}/performance", params=query, headers=who.headers
    )
    assert response.status_code == 200, response.text
    perf: dict[str, Any] = response.json()
    return perf


# --- 1. a transaction's currency --------------------------------------------------------------


async def test_amounts_in_euros_are_converted_to_the_base_currency_at_their_days_rate(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    day = weekday(60)
    deposit = await record(
        client, alice, portfolio_id, date=day, type="deposit", amount=1000, currency="EUR"
    )
    assert deposit.status_code == 201, deposit.text
    assert deposit.json()["currency"] == "EUR"
    buy = await record(
        client,
        alice,
        portfolio_id,
        date=day,
        type="buy",
        symbol="AAPL",
        quantity=2,
        price=100,
        currency="EUR",
    )
    assert buy.status_code == 201, buy.text
    plain = await record(client, alice, portfolio_id, date=day, type="interest", amount=5)
    assert plain.json()["currency"] == "USD"  # a cash row without one: the base currency

    rate = await rate_on(client, alice, "EURUSD=X", day)
    perf = await performance(client, alice, portfolio_id)
    first = perf["series"][0]
    assert first["date"] == str(day)
    assert first["netFlow"] == cents(1000 * rate)
    assert perf["costBasis"] == cents(200 * rate)
    (aapl,) = perf["holdings"]
    assert Decimal(aapl["avgCost"]) == (100 * rate).quantize(Decimal("1e-8"), ROUND_HALF_EVEN)
    cash = [a for a in perf["allocation"] if a["assetClass"] == "cash"]
    assert cash[0]["value"] == cents(800 * rate + 5)


async def test_a_currency_the_market_cannot_convert_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    day = weekday(30)
    for currency in ("SEK", "XYZ"):
        refused = await record(
            client, alice, portfolio_id, date=day, type="deposit", amount=100, currency=currency
        )
        body = assert_problem(refused, 422)
        assert error_fields(body) == {"body.currency"}
        assert currency in body["detail"]
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json()["transactions"] == []


# --- 2. base currencies -----------------------------------------------------------------------


async def test_only_base_currencies_the_market_can_convert_are_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for base in ("SEK", "XYZ"):
        refused = await client.post(
            f"{V1}/", json={"name": "Krona", "baseCurrency": base}, headers=alice.headers
        )
        assert error_fields(assert_problem(refused, 422)) == {"body.baseCurrency"}
    listed = await client.get(f"{V1}/", headers=alice.headers)
    assert listed.json()["portfolios"] == []

    for base in ("EUR", "JPY", "CHF", "USD"):
        await new_portfolio(client, alice, baseCurrency=base)
    portfolio_id = await new_portfolio(client, alice, baseCurrency="EUR")
    moved = await client.put(
        f"{V1}/{portfolio_id}", json={"name": "Krona", "baseCurrency": "SEK"}, headers=alice.headers
    )
    assert error_fields(assert_problem(moved, 422)) == {"body.baseCurrency"}
    kept = await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)
    assert kept.json()["baseCurrency"] == "EUR"


async def test_dollar_holdings_are_converted_into_a_euro_base(
    client: httpx.AsyncClient, alice: Account
) -> None:
    day = weekday(40)
    lot = {"symbol": "AAPL", "quantity": "3", "purchasePrice": "150", "purchaseDate": str(day)}
    portfolio_id = await new_portfolio(client, alice, baseCurrency="EUR", assets=[lot])
    perf = await performance(client, alice, portfolio_id)
    rate = await rate_on(client, alice, "EURUSD=X", day)
    assert perf["baseCurrency"] == "EUR"
    assert perf["costBasis"] == cents(450 / rate)


# --- 3. withdrawals and the cash --------------------------------------------------------------


async def test_a_withdrawal_larger_than_the_cash_is_refused_naming_the_shortfall(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    first, later = weekday(50), weekday(20)
    early = await record(client, alice, portfolio_id, date=first, type="withdrawal", amount=100)
    body = assert_problem(early, 422)  # the first day: nothing to take
    assert error_fields(body) == {"body.amount"}
    assert "100.00 USD short" in body["detail"]

    assert (
        await record(client, alice, portfolio_id, date=first, type="deposit", amount=550)
    ).is_success
    refused = await record(client, alice, portfolio_id, date=later, type="withdrawal", amount=5000)
    body = assert_problem(refused, 422)
    assert error_fields(body) == {"body.amount"}
    assert "4,450.00 USD short" in body["detail"]
    # Euros count at their day's rate: the 550 USD cannot pay 560 USD worth of euros.
    rate = await rate_on(client, alice, "EURUSD=X", later)
    euros = round(560 / float(rate), 2)
    refused = await record(
        client, alice, portfolio_id, date=later, type="withdrawal", amount=euros, currency="EUR"
    )
    body = assert_problem(refused, 422)
    assert error_fields(body) == {"body.amount"}
    assert f"{euros} EUR" in body["detail"]
    assert "10.0" in body["detail"] or "9.99" in body["detail"]

    taken = await record(client, alice, portfolio_id, date=later, type="withdrawal", amount=500)
    assert taken.status_code == 201, taken.text
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert [t["type"] for t in ledger.json()["transactions"]] == ["deposit", "withdrawal"]
    perf = await performance(client, alice, portfolio_id)
    flows = {point["date"]: point["netFlow"] for point in perf["series"]}
    assert flows[str(first)] == "550.00"
    assert flows[str(later)] == "-500.00"  # exactly the ledger's amount


async def test_taxes_take_from_the_cash_a_withdrawal_may_use(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    first, later = weekday(50), weekday(20)
    for kind, amount in (("deposit", 550), ("tax", 100)):
        made = await record(client, alice, portfolio_id, date=first, type=kind, amount=amount)
        assert made.status_code == 201, made.text
    refused = await record(client, alice, portfolio_id, date=later, type="withdrawal", amount=500)
    body = assert_problem(refused, 422)  # the valuation leaves 450 after the tax
    assert error_fields(body) == {"body.amount"}
    assert "50.00 USD short" in body["detail"]
    taken = await record(client, alice, portfolio_id, date=later, type="withdrawal", amount=450)
    assert taken.status_code == 201, taken.text
    perf = await performance(client, alice, portfolio_id)
    assert perf["series"][-1]["value"] == "0.00"


async def test_a_first_day_withdrawal_is_booked_as_the_ledger_says(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    day = weekday(30)
    assert (
        await record(client, alice, portfolio_id, date=day, type="deposit", amount=1000)
    ).is_success
    taken = await record(client, alice, portfolio_id, date=day, type="withdrawal", amount=300)
    assert taken.status_code == 201, taken.text
    perf = await performance(client, alice, portfolio_id)
    assert perf["series"][0]["netFlow"] == "700.00"
    assert perf["series"][0]["value"] == "700.00"

    # Alone on the first day (where negative cash is allowed): taken out, not netted to 0.
    overdrawn = await new_portfolio(client, alice, allowNegativeCash=True)
    alone = await record(client, alice, overdrawn, date=day, type="withdrawal", amount=300)
    assert alone.status_code == 201, alone.text
    perf = await performance(client, alice, overdrawn)
    assert perf["series"][0]["netFlow"] == "-300.00"
    assert perf["series"][0]["value"] == "-300.00"


async def test_negative_cash_when_the_portfolio_allows_it_books_the_ledgers_flow(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice, allowNegativeCash=True)
    made = await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)
    assert made.json()["allowNegativeCash"] is True
    first, later = weekday(50), weekday(20)
    assert (
        await record(client, alice, portfolio_id, date=first, type="deposit", amount=550)
    ).is_success
    taken = await record(client, alice, portfolio_id, date=later, type="withdrawal", amount=5000)
    assert taken.status_code == 201, taken.text
    perf = await performance(client, alice, portfolio_id)
    flows = {point["date"]: point for point in perf["series"]}
    assert flows[str(later)]["netFlow"] == "-5000.00"
    assert flows[str(later)]["value"] == "-4450.00"

    # Turning the setting off while the cash is below zero is refused; nothing changes.
    off = await client.put(f"{V1}/{portfolio_id}", json={"name": "Ledger"}, headers=alice.headers)
    body = assert_problem(off, 422)
    assert error_fields(body) == {"body.allowNegativeCash"}
    assert "4,450.00 USD short" in body["detail"]
    kept = await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)
    assert kept.json()["allowNegativeCash"] is True


async def test_a_change_that_would_leave_a_later_withdrawal_short_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    first, middle, last, after_it = weekday(60), weekday(40), weekday(20), weekday(10)
    assert (
        await record(client, alice, portfolio_id, date=first, type="deposit", amount=1000)
    ).is_success
    assert (
        await record(client, alice, portfolio_id, date=last, type="withdrawal", amount=800)
    ).is_success
    lot = {"symbol": "AAPL", "quantity": "2", "purchasePrice": "250", "purchaseDate": str(middle)}
    spent = await client.put(
        f"{V1}/{portfolio_id}", json={"name": "Ledger", "assets": [lot]}, headers=alice.headers
    )
    body = assert_problem(spent, 422)
    assert error_fields(body) == {"body.assets"}
    assert "300.00 USD short" in body["detail"]
    bought = await record(
        client, alice, portfolio_id, date=middle, type="buy", symbol="AAPL", quantity=2, price=250
    )
    assert error_fields(assert_problem(bought, 422)) == {"body"}
    after = {**lot, "purchaseDate": str(after_it)}  # after the withdrawal: cash was there
    fine = await client.put(
        f"{V1}/{portfolio_id}", json={"name": "Ledger", "assets": [after]}, headers=alice.headers
    )
    assert fine.status_code == 200, fine.text


async def test_an_import_that_overdraws_is_refused_naming_its_line(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    data = f"date,type,amount\n{weekday(40)},deposit,100\n{weekday(20)},withdrawal,250\n"
    refused = await client.post(
        f"{V1}/{portfolio_id}/import", content=data, headers=alice.headers | CSV
    )
    body = assert_problem(refused, 422)
    assert error_fields(body) == {"line 3.amount"}
    assert "150.00 USD short" in body["detail"]
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json()["transactions"] == []


# --- 4. dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["0001-01-01", "0001-01-13", "1899-12-31"])
async def test_dates_before_1900_are_refused_on_write(
    client: httpx.AsyncClient, alice: Account, day: str
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    deposit = await record(client, alice, portfolio_id, date=day, type="deposit", amount=10)
    assert error_fields(assert_problem(deposit, 422)) == {"body.date"}
    lot = {"symbol": "AAPL", "quantity": "1", "purchasePrice": "10", "purchaseDate": day}
    created = await client.post(
        f"{V1}/", json={"name": "Old", "assets": [lot]}, headers=alice.headers
    )
    assert error_fields(assert_problem(created, 422)) == {"body.assets[0].purchaseDate"}
    data = f"date,type,amount\n{weekday(10)},deposit,10\n{day},deposit,10\n"
    imported = await client.post(
        f"{V1}/{portfolio_id}/import", content=data, headers=alice.headers | CSV
    )
    assert error_fields(assert_problem(imported, 422)) == {"line 3.date"}
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json()["transactions"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "0001-01-01"}, "query.start"),
        ({"start": "1899-12-31"}, "query.start"),
        ({"end": "9999-12-31"}, "query.end"),
        ({"end": "2030-01-01"}, "query.end"),
        ({"start": "2030-01-01", "end": "2030-02-01"}, "query.start"),
    ],
)
async def test_performance_windows_outside_1900_to_today_are_refused(
    client: httpx.AsyncClient, alice: Account, query: dict[str, str], field: str
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    assert (
        await record(client, alice, portfolio_id, date=weekday(20), type="deposit", amount=10)
    ).is_success
    for path in ("performance", "performance/chart"):
        response = await client.get(
            f"{V1}/{portfolio_id}/{path}", params=query, headers=alice.headers
        )
        assert error_fields(assert_problem(response, 422)) == {field}
    tomorrow = str(utcnow().date() + timedelta(days=1))
    ahead = await client.get(
        f"{V1}/{portfolio_id}/performance", params={"end": tomorrow}, headers=alice.headers
    )
    assert error_fields(assert_problem(ahead, 422)) == {"query.end"}


# --- 5. dividends -----------------------------------------------------------------------------


async def test_a_dividend_on_a_symbol_never_held_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    bought, paid, sold = weekday(60), weekday(40), weekday(50)
    refused = await record(
        client, alice, portfolio_id, date=paid, type="dividend", symbol="MSFT", amount=12
    )
    body = assert_problem(refused, 422)
    assert error_fields(body) == {"body.symbol"}
    assert "MSFT" in body["detail"]

    buy = await record(
        client, alice, portfolio_id, date=bought, type="buy", symbol="MSFT", quantity=2, price=300
    )
    assert buy.status_code == 201, buy.text
    before = await record(
        client,
        alice,
        portfolio_id,
        date=bought - timedelta(days=7),
        type="dividend",
        symbol="MSFT",
        amount=12,
    )
    assert error_fields(assert_problem(before, 422)) == {"body.symbol"}
    sale = await record(
        client, alice, portfolio_id, date=sold, type="sell", symbol="MSFT", quantity=2, price=310
    )
    assert sale.status_code == 201, sale.text
    # Paid after the position was sold (it was held at the record date): accepted.
    after = await record(
        client, alice, portfolio_id, date=paid, type="dividend", symbol="MSFT", amount=12
    )
    assert after.status_code == 201, after.text
    # Removing the lot it was paid on is refused too.
    emptied = await client.put(
        f"{V1}/{portfolio_id}", json={"name": "Ledger", "assets": []}, headers=alice.headers
    )
    assert error_fields(assert_problem(emptied, 422)) == {"body.assets"}
    perf = await performance(client, alice, portfolio_id)
    assert perf["dividends"] == "12.00"


async def test_either_spelling_of_a_listed_symbol_is_one_position_kept_as_the_market_names_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The market reads ``BRK.B`` as its ``BRK-B``, but the ledger kept each row's spelling:
    two buys of Berkshire, spelt both ways, were two positions, and selling what they held
    together was refused ("exceeds the 2 held then"). Lots, transactions and imported rows are
    kept under the market's name now."""
    day = weekday(60)
    portfolio_id = await new_portfolio(
        client,
        alice,
        baseCurrency="USD",
        assets=[
            {"symbol": "brk.b", "quantity": "1", "purchasePrice": "500", "purchaseDate": str(day)}
        ],
    )
    deposit = await record(client, alice, portfolio_id, date=day, type="deposit", amount=10_000)
    dotted = await record(
        client, alice, portfolio_id, date=day, type="buy", symbol="BRK.B", quantity=2, price=500
    )
    assert (deposit.status_code, dotted.status_code) == (201, 201), dotted.text
    assert dotted.json()["symbol"] == "BRK-B"
    rows = f"date,symbol,type,quantity,price\n{day + timedelta(days=1)},BRK-B,buy,3,500\n"
    imported = await client.post(
        f"{V1}/{portfolio_id}/import", content=rows.encode(), headers=alice.headers | CSV
    )
    assert imported.status_code == 201, imported.text

    sold = await record(
        client,
        alice,
        portfolio_id,
        date=day + timedelta(days=2),
        type="sell",
        symbol="Brk.B",
        quantity=5,
        price=510,
    )

    assert sold.status_code == 201, sold.text
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert {row["symbol"] for row in ledger.json()["transactions"]} == {None, "BRK-B"}
    perf = await performance(client, alice, portfolio_id)
    assert [(h["symbol"], h["quantity"]) for h in perf["holdings"]] == [("BRK-B", "1")]
