"""Portfolios and their ledger: CRUD, transactions of every type, and refusals that change
nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from flint.kit.time import utcnow
from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/portfolio"


def lot(
    symbol: str = "AAPL", quantity: str = "10", price: str = "150.25", day: str = "2024-03-01"
) -> dict[str, str]:
    return {"symbol": symbol, "quantity": quantity, "purchasePrice": price, "purchaseDate": day}


async def create(client: httpx.AsyncClient, who: Account, **body: Any) -> httpx.Response:
    payload = {
        "name": "Retirement",
        "assets": [lot(), lot("BTC-USD", "0.5", "42000", "2024-01-15")],
    }
    return await client.post(f"{V1}/", json=payload | body, headers=who.headers)


async def test_a_portfolio_is_created_with_its_lots_and_listed(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await create(client, alice)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Retirement"
    assert body["baseCurrency"] == "USD"
    assert [
        (a["symbol"], a["quantity"], a["purchasePrice"], a["purchaseDate"]) for a in body["assets"]
    ] == [
        ("BTC-USD", "0.5", "42000.00", "2024-01-15"),
        ("AAPL", "10", "150.25", "2024-03-01"),
    ]
    listed = (await client.get(f"{V1}/", headers=alice.headers)).json()["portfolios"]
    assert [p["portfolioId"] for p in listed] == [body["portfolioId"]]
    assert (await client.get(f"{V1}/{body['portfolioId']}", headers=alice.headers)).json() == body


async def test_every_bad_row_is_named_and_nothing_is_created(
    client: httpx.AsyncClient, alice: Account
) -> None:
    tomorrow = (utcnow().date() + timedelta(days=1)).isoformat()
    response = await create(
        client,
        alice,
        assets=[lot(), lot("NOSUCHCO"), lot(day=tomorrow), lot(quantity="0"), lot(price="-1")],
    )
    fields = error_fields(assert_problem(response, 422))
    # One way of naming a list's item, whether the schema or Flint's checks refuse it (the
    # schema's were body.assets.3.quantity).
    assert {"body.assets[3].quantity", "body.assets[4].purchasePrice"} <= fields
    assert (await client.get(f"{V1}/", headers=alice.headers)).json() == {"portfolios": []}
    response = await create(client, alice, assets=[lot(), lot("NOSUCHCO"), lot(day=tomorrow)])
    problem = assert_problem(response, 422)
    assert error_fields(problem) == {"body.assets[1].symbol", "body.assets[2].purchaseDate"}
    assert "unknown symbol NOSUCHCO" in problem["detail"]
    assert (await client.get(f"{V1}/", headers=alice.headers)).json() == {"portfolios": []}


async def test_a_currency_in_lower_case_is_refused_saying_what_a_currency_is(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """ "usd" was refused as "String should match pattern '^[A-Z]{3}$'". Not read as USD:
    GBp (pence) and GBP (pounds) differ by case."""
    refused = assert_problem(await create(client, alice, baseCurrency="usd"), 422)
    assert [e["message"] for e in refused["errors"]] == [
        "must be an ISO 4217 currency code in capitals, such as USD"
    ]
    made = await create(client, alice, assets=[])
    portfolio = made.json()["portfolioId"]
    cash = {"date": "2024-03-01", "type": "deposit", "amount": "10", "currency": "gbp"}
    answer = await client.post(f"{V1}/{portfolio}/transactions", json=cash, headers=alice.headers)
    (error,) = assert_problem(answer, 422)["errors"]
    assert error == {
        "field": "body.currency",
        "message": "must be an ISO 4217 currency code in capitals, such as USD (or GBp, pence)",
        "type": "value_error",
    }
    listed = (await client.get(f"{V1}/", headers=alice.headers)).json()["portfolios"]
    assert [p["portfolioId"] for p in listed] == [portfolio]
    ledger = await client.get(f"{V1}/{portfolio}/transactions", headers=alice.headers)
    assert ledger.json()["transactions"] == []


async def test_what_a_transaction_type_needs_is_refused_at_each_missing_field(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """A buy without a price was refused at `body` (a file's row at `line 2`): the field
    is named, in the body and in a file, each one missing once."""
    portfolio = (await create(client, alice, assets=[])).json()["portfolioId"]
    buy = {"date": "2024-03-01", "type": "buy", "symbol": "AAPL"}
    answer = await client.post(f"{V1}/{portfolio}/transactions", json=buy, headers=alice.headers)
    assert [(e["field"], e["message"]) for e in assert_problem(answer, 422)["errors"]] == [
        ("body.quantity", "a buy needs quantity"),
        ("body.price", "a buy needs price"),
    ]
    csv = b"date,symbol,type,quantity,price\n2024-03-01,AAPL,buy,2,\n2024-03-04,,deposit,,\n"
    imported = await client.post(
        f"{V1}/{portfolio}/import",
        content=csv,
        headers=alice.headers | {"Content-Type": "text/csv"},
    )
    assert [(e["field"], e["message"]) for e in assert_problem(imported, 422)["errors"]] == [
        ("line 2.price", "a buy needs price"),
        ("line 3.amount", "a deposit needs amount"),
    ]
    ledger = await client.get(f"{V1}/{portfolio}/transactions", headers=alice.headers)
    assert ledger.json()["transactions"] == []


async def test_the_ledger_takes_every_type_and_refuses_overselling(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = (await create(client, alice)).json()["portfolioId"]
    url = f"{V1}/{portfolio_id}/transactions"
    entries = [
        {"date": "2024-02-01", "type": "deposit", "amount": "10000"},
        {"date": "2024-05-01", "type": "dividend", "symbol": "AAPL", "amount": "2.40"},
        {"date": "2024-06-10", "type": "split", "symbol": "AAPL", "quantity": "4"},
        {
            "date": "2024-07-01",
            "type": "sell",
            "symbol": "AAPL",
            "quantity": "40",
            "price": "210",
            "fee": "1",
        },
        {"date": "2024-07-02", "type": "fee", "amount": "5"},
        {"date": "2024-08-01", "type": "interest", "amount": "3.21"},
        {"date": "2024-09-01", "type": "withdrawal", "amount": "100"},
    ]
    for entry in entries:
        response = await client.post(url, json=entry, headers=alice.headers)
        assert response.status_code == 201, (entry, response.text)
    # 10 AAPL, split 4:1 = 40, all sold: one more is too many.
    over = {"date": "2024-07-03", "type": "sell", "symbol": "AAPL", "quantity": "1", "price": "1"}
    problem = assert_problem(await client.post(url, json=over, headers=alice.headers), 422)
    assert "exceeds the 0 held" in problem["detail"]
    # A sale before the shares were bought is refused too.
    early = {"date": "2024-02-01", "type": "sell", "symbol": "AAPL", "quantity": "1", "price": "1"}
    assert_problem(await client.post(url, json=early, headers=alice.headers), 422)
    missing = {"date": "2024-07-03", "type": "buy", "symbol": "AAPL", "quantity": "1"}
    assert_problem(await client.post(url, json=missing, headers=alice.headers), 422)

    ledger = (await client.get(url, headers=alice.headers)).json()["transactions"]
    assert [(t["date"], t["type"]) for t in ledger] == [
        ("2024-01-15", "buy"),
        ("2024-02-01", "deposit"),
        ("2024-03-01", "buy"),
        ("2024-05-01", "dividend"),
        ("2024-06-10", "split"),
        ("2024-07-01", "sell"),
        ("2024-07-02", "fee"),
        ("2024-08-01", "interest"),
        ("2024-09-01", "withdrawal"),
    ]
    version = (await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)).json()["version"]
    assert version == 1 + len(entries)


async def test_replacing_keeps_the_ledger_consistent(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = (await create(client, alice)).json()["portfolioId"]
    sell = {"date": "2024-07-01", "type": "sell", "symbol": "AAPL", "quantity": "5", "price": "200"}
    assert (
        await client.post(f"{V1}/{portfolio_id}/transactions", json=sell, headers=alice.headers)
    ).status_code == 201
    fewer = {"name": "Renamed", "assets": [lot(quantity="4")]}
    assert_problem(await client.put(f"{V1}/{portfolio_id}", json=fewer, headers=alice.headers), 422)
    enough = {
        "name": "Renamed",
        "baseCurrency": "EUR",
        "assets": [lot(quantity="6"), lot("MSFT", "2", "400", "2024-04-02")],
    }
    replaced = await client.put(f"{V1}/{portfolio_id}", json=enough, headers=alice.headers)
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert (body["name"], body["baseCurrency"]) == ("Renamed", "EUR")
    assert [(a["symbol"], a["quantity"]) for a in body["assets"]] == [
        ("AAPL", "6"),
        ("MSFT", "2"),
    ]
    ledger = (await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)).json()
    assert [t["type"] for t in ledger["transactions"]] == ["buy", "buy", "sell"]


async def test_a_portfolio_read_and_sent_back_renamed_keeps_its_lots_as_they_were(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Renaming is a `PUT` of the whole portfolio, so a client sends back the lots it read: they
    came back without their fees and in their symbols' quote currency (a buy of 1 MSFT at 400
    EUR with a fee of 1 became one at 400 USD without a fee), under new ids."""
    portfolio_id = (await create(client, alice, assets=[])).json()["portfolioId"]
    rows = [
        {"date": "2024-03-01", "type": "deposit", "amount": "10000"},
        {"date": "2024-03-04", "type": "buy", "symbol": "AAPL", "quantity": "2", "price": "170"}
        | {"fee": "4.95"},
        {"date": "2024-03-04", "type": "buy", "symbol": "MSFT", "quantity": "1", "price": "400"}
        | {"fee": "1", "currency": "EUR"},
    ]
    for row in rows:
        added = await client.post(
            f"{V1}/{portfolio_id}/transactions", json=row, headers=alice.headers
        )
        assert added.status_code == 201, added.text
    read = (await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)).json()
    ledger = (await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)).json()
    assert [(a["symbol"], a["fee"], a["currency"]) for a in read["assets"]] == [
        ("AAPL", "4.95", "USD"),
        ("MSFT", "1.00", "EUR"),
    ]

    back = {
        "name": "Renamed",
        "baseCurrency": read["baseCurrency"],
        "assets": [sent_back(lot) for lot in read["assets"]],
    }
    renamed = await client.put(f"{V1}/{portfolio_id}", json=back, headers=alice.headers)

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Renamed"
    assert renamed.json()["assets"] == read["assets"]
    after = (await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)).json()
    assert after == ledger


def sent_back(read: dict[str, Any]) -> dict[str, Any]:
    """A lot as `GET` answers it, as a replacement takes it (only the sync sets a source)."""
    return {name: value for name, value in read.items() if name != "sourceTransactionId"}


async def test_lot_ids_that_name_no_lot_of_the_portfolio_are_refused_and_change_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = (await create(client, alice)).json()
    other = (await create(client, alice)).json()
    mine = created["assets"][0]
    path = f"{V1}/{created['portfolioId']}"
    for lot_id in (uuid.uuid4(), other["assets"][0]["lotId"]):
        body = {"name": "X", "assets": [lot() | {"lotId": str(lot_id)}]}
        refused = await client.put(path, json=body, headers=alice.headers)
        assert str(lot_id) in assert_problem(refused, 404)["detail"]
    twice = {"name": "X", "assets": [lot() | {"lotId": mine["lotId"]}] * 2}
    refused = await client.put(path, json=twice, headers=alice.headers)
    assert error_fields(assert_problem(refused, 422)) == {"body.assets[1].lotId"}
    new = {"name": "N", "assets": [lot() | {"lotId": mine["lotId"]}]}
    refused = await client.post(f"{V1}/", json=new, headers=alice.headers)
    assert error_fields(assert_problem(refused, 422)) == {"body.assets[0].lotId"}
    assert (await client.get(path, headers=alice.headers)).json() == created


async def test_a_replacements_lot_is_refused_at_its_own_field_names(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """A lot's date is its `purchaseDate`: a refusal names that, not the ledger's `date`."""
    created = (await create(client, alice)).json()
    path = f"{V1}/{created['portfolioId']}"
    tomorrow = (utcnow().date() + timedelta(days=1)).isoformat()
    body = {"name": "X", "assets": [lot(), lot("NOSUCHCO"), lot(day=tomorrow)]}
    refused = assert_problem(await client.put(path, json=body, headers=alice.headers), 422)
    assert error_fields(refused) == {"body.assets[1].symbol", "body.assets[2].purchaseDate"}
    assert f"body.assets[2].purchaseDate: {tomorrow} is in the future" in refused["detail"]
    assert (await client.get(path, headers=alice.headers)).json() == created


async def test_another_users_portfolio_is_404_and_delete_removes_the_ledger(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    portfolio_id = (await create(client, alice)).json()["portfolioId"]
    for method, path in [
        ("GET", f"{V1}/{portfolio_id}"),
        ("PUT", f"{V1}/{portfolio_id}"),
        ("DELETE", f"{V1}/{portfolio_id}"),
        ("GET", f"{V1}/{portfolio_id}/transactions"),
        ("POST", f"{V1}/{portfolio_id}/transactions"),
    ]:
        kwargs: dict[str, Any] = {}
        if method == "PUT":
            kwargs["json"] = {"name": "Mine now", "assets": []}
        if method == "POST":
            kwargs["json"] = {"date": "2024-02-01", "type": "deposit", "amount": "1"}
        assert_problem(await client.request(method, path, headers=bob.headers, **kwargs), 404)
    assert (await client.delete(f"{V1}/{portfolio_id}", headers=alice.headers)).status_code == 204
    assert_problem(await client.get(f"{V1}/{portfolio_id}", headers=alice.headers), 404)
    assert_problem(await client.get(f"{V1}/{uuid.uuid4()}", headers=alice.headers), 404)
