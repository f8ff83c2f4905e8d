"""Custom assets (/api/v1/assets): owner-only namespaced symbols with prices the owner gives,
usable wherever a listed symbol is in portfolios; before the first price they cannot be bought,
between prices the last one carries forward."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from flint.kit.time import utcnow
from tests.conftest import Account, assert_problem, error_fields

ASSETS = "/api/v1/assets"
PORTFOLIO = "/api/v1/portfolio"

HOUSE = {"symbol": "my:house", "name": "Our house", "currency": "USD", "assetClass": "real_estate"}


async def create_house(client: httpx.AsyncClient, who: Account, **changes: Any) -> dict[str, Any]:
    response = await client.post(ASSETS, json={**HOUSE, **changes}, headers=who.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def put_prices(
    client: httpx.AsyncClient, who: Account, symbol: str, prices: dict[date, str]
) -> httpx.Response:
    body = [{"date": day.isoformat(), "price": price} for day, price in prices.items()]
    return await client.put(f"{ASSETS}/{symbol}/prices", json=body, headers=who.headers)


async def hold(
    client: httpx.AsyncClient, who: Account, name: str, symbol: str, price: str, day: str
) -> str:
    """A new portfolio holding one unit of ``symbol`` bought at ``price`` on ``day``."""
    lot = {"symbol": symbol, "quantity": "1", "purchasePrice": price, "purchaseDate": day}
    created = await client.post(
        f"{PORTFOLIO}/", json={"name": name, "assets": [lot]}, headers=who.headers
    )
    assert created.status_code == 201, created.text
    portfolio_id: str = created.json()["portfolioId"]
    return portfolio_id


async def performance(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, end: date
) -> dict[str, Any]:
    response = await client.get(
        f"{PORTFOLIO}/{portfolio_id}/performance",
        params={"end": end.isoformat()},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_custom_asset_is_created_upper_cased_and_listed_with_its_price_summary(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await create_house(client, alice)
    assert created["symbol"] == "MY:HOUSE"
    assert created["assetClass"] == "real_estate"
    assert created["firstPriceDate"] is None
    assert created["priceCount"] == 0

    written = await put_prices(
        client, alice, "MY:HOUSE", {date(2024, 1, 2): "400000", date(2024, 7, 1): "450000.50"}
    )
    assert written.status_code == 200, written.text
    assert written.json()["inserted"] == 2
    assert written.json()["updated"] == 0

    listing = await client.get(ASSETS, headers=alice.headers)
    assert listing.status_code == 200
    (asset,) = listing.json()["assets"]
    assert asset["symbol"] == "MY:HOUSE"
    assert asset["firstPriceDate"] == "2024-01-02"
    assert asset["lastPriceDate"] == "2024-07-01"
    assert asset["lastPrice"] == "450000.50"
    assert asset["priceCount"] == 2

    # Prices are an upsert by day: one replaced, one added, the other kept.
    again = await put_prices(
        client, alice, "my:house", {date(2024, 7, 1): "460000", date(2024, 10, 1): "470000"}
    )
    assert again.status_code == 200, again.text
    assert (again.json()["inserted"], again.json()["updated"]) == (1, 1)
    prices = await client.get(f"{ASSETS}/MY:HOUSE/prices", headers=alice.headers)
    assert prices.json()["prices"] == [
        {"date": "2024-01-02", "price": "400000.00"},
        {"date": "2024-07-01", "price": "460000.00"},
        {"date": "2024-10-01", "price": "470000.00"},
    ]
    window = await client.get(
        f"{ASSETS}/MY:HOUSE/prices",
        params={"start": "2024-02-01", "end": "2024-09-30"},
        headers=alice.headers,
    )
    assert [p["date"] for p in window.json()["prices"]] == ["2024-07-01"]

    renamed = await client.put(
        f"{ASSETS}/MY:HOUSE",
        json={"name": "The house by the lake", "assetClass": "real_estate"},
        headers=alice.headers,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "The house by the lake"


async def test_bad_assets_and_prices_are_refused_and_change_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for symbol in ("HOUSE", "MY:", ":HOUSE", "MY:HO USE", "1X:HOUSE", "TOOLONGNS:HOUSE"):
        refused = await client.post(ASSETS, json={**HOUSE, "symbol": symbol}, headers=alice.headers)
        assert "body.symbol" in error_fields(assert_problem(refused, 422)), symbol
    refused = await client.post(
        ASSETS, json={**HOUSE, "assetClass": "yacht"}, headers=alice.headers
    )
    assert "body.assetClass" in error_fields(assert_problem(refused, 422))
    refused = await client.post(ASSETS, json={**HOUSE, "currency": "usd"}, headers=alice.headers)
    assert "body.currency" in error_fields(assert_problem(refused, 422))

    await create_house(client, alice)
    assert_problem(await client.post(ASSETS, json=HOUSE, headers=alice.headers), 409)

    await put_prices(client, alice, "MY:HOUSE", {date(2024, 1, 2): "400000"})
    tomorrow = utcnow().date() + timedelta(days=1)
    future = await put_prices(
        client, alice, "MY:HOUSE", {date(2024, 1, 2): "1", tomorrow: "410000"}
    )
    assert error_fields(assert_problem(future, 422)) == {"body[1].date"}
    twice = await client.put(
        f"{ASSETS}/MY:HOUSE/prices",
        json=[{"date": "2024-03-01", "price": "1"}, {"date": "2024-03-01", "price": "2"}],
        headers=alice.headers,
    )
    assert error_fields(assert_problem(twice, 422)) == {"body[1].date"}
    for price in ("0", "-5", "abc", "NaN"):
        bad = await put_prices(client, alice, "MY:HOUSE", {date(2024, 3, 1): price})
        assert_problem(bad, 422)
    empty = await client.put(f"{ASSETS}/MY:HOUSE/prices", json=[], headers=alice.headers)
    assert_problem(empty, 422)

    prices = await client.get(f"{ASSETS}/MY:HOUSE/prices", headers=alice.headers)
    assert prices.json()["prices"] == [{"date": "2024-01-02", "price": "400000.00"}]


async def test_a_custom_asset_is_its_owners_alone(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    await create_house(client, alice)
    await put_prices(client, alice, "MY:HOUSE", {date(2024, 1, 2): "400000"})

    assert_problem(await client.get(f"{ASSETS}/MY:HOUSE", headers=bob.headers), 404)
    assert_problem(await client.get(f"{ASSETS}/MY:HOUSE/prices", headers=bob.headers), 404)
    assert_problem(await put_prices(client, bob, "MY:HOUSE", {date(2024, 1, 3): "1"}), 404)
    assert_problem(await client.delete(f"{ASSETS}/MY:HOUSE", headers=bob.headers), 404)
    assert (await client.get(ASSETS, headers=bob.headers)).json()["assets"] == []

    # Bob cannot put Alice's symbol in a portfolio: to him it does not exist.
    lot = {
        "symbol": "MY:HOUSE",
        "quantity": "1",
        "purchasePrice": "1",
        "purchaseDate": "2024-02-01",
    }
    refused = await client.post(
        f"{PORTFOLIO}/", json={"name": "Bob's", "assets": [lot]}, headers=bob.headers
    )
    body = assert_problem(refused, 422)
    assert error_fields(body) == {"body.assets[0].symbol"}
    assert "unknown symbol MY:HOUSE" in body["detail"]

    # His own MY:HOUSE is another asset, with its own prices.
    await create_house(client, bob, name="Bob's flat")
    await put_prices(client, bob, "MY:HOUSE", {date(2023, 5, 1): "250000"})
    mine = await client.get(f"{ASSETS}/MY:HOUSE/prices", headers=bob.headers)
    assert mine.json()["prices"] == [{"date": "2023-05-01", "price": "250000.00"}]
    theirs = await client.get(f"{ASSETS}/MY:HOUSE/prices", headers=alice.headers)
    assert theirs.json()["prices"] == [{"date": "2024-01-02", "price": "400000.00"}]


async def test_a_custom_asset_cannot_be_bought_before_its_first_price(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await create_house(client, alice)
    lot = {
        "symbol": "MY:HOUSE",
        "quantity": "1",
        "purchasePrice": "1",
        "purchaseDate": "2024-02-01",
    }
    unpriced = await client.post(
        f"{PORTFOLIO}/", json={"name": "Home", "assets": [lot]}, headers=alice.headers
    )
    assert "has no prices yet" in assert_problem(unpriced, 422)["detail"]

    await put_prices(client, alice, "MY:HOUSE", {date(2024, 1, 2): "400000"})
    early = {**lot, "purchaseDate": "2024-01-01"}
    refused = await client.post(
        f"{PORTFOLIO}/", json={"name": "Home", "assets": [lot, early]}, headers=alice.headers
    )
    body = assert_problem(refused, 422)
    assert error_fields(body) == {"body.assets[1].purchaseDate"}
    assert "no price before 2024-01-02" in body["detail"]
    assert (await client.get(f"{PORTFOLIO}/", headers=alice.headers)).json()["portfolios"] == []


async def test_a_custom_asset_is_valued_with_its_last_given_price_carried_forward(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await create_house(client, alice)
    await put_prices(
        client, alice, "MY:HOUSE", {date(2024, 1, 2): "400000", date(2024, 7, 1): "450000"}
    )
    portfolio_id = await hold(client, alice, "Home", "MY:HOUSE", "400000", "2024-01-02")

    before = await performance(client, alice, portfolio_id, date(2024, 6, 28))
    assert before["marketValue"] == "400000.00"
    assert before["unrealizedPnl"] == "0.00"
    after = await performance(client, alice, portfolio_id, date(2024, 7, 5))
    assert after["marketValue"] == "450000.00"
    assert after["holdings"][0]["price"] == "450000.00"
    assert after["holdings"][0]["pnl"] == "50000.00"
    assert after["allocation"] == [
        {"symbol": "MY:HOUSE", "assetClass": "real_estate", "weight": 1.0, "value": "450000.00"}
    ]
    assert after["twr"] == 450000 / 400000 - 1
    # Valued on its own calendar: the days it has a price, through the end asked for.
    values = {point["date"]: point["value"] for point in after["series"]}
    assert values == {
        "2024-01-02": "400000.00",
        "2024-07-01": "450000.00",
        "2024-07-05": "450000.00",
    }

    # New prices make the cached result stale: the portfolio's version moves.
    version = (await client.get(f"{PORTFOLIO}/{portfolio_id}", headers=alice.headers)).json()[
        "version"
    ]
    await put_prices(client, alice, "MY:HOUSE", {date(2024, 7, 1): "500000"})
    moved = (await client.get(f"{PORTFOLIO}/{portfolio_id}", headers=alice.headers)).json()
    assert moved["version"] == version + 1
    repriced = await performance(client, alice, portfolio_id, date(2024, 7, 5))
    assert repriced["marketValue"] == "500000.00"

    chart = await client.get(
        f"{PORTFOLIO}/{portfolio_id}/performance/chart",
        params={"kind": "allocation", "end": "2024-07-05"},
        headers=alice.headers,
    )
    assert chart.status_code == 200
    assert chart.content.startswith(b"\x89PNG")


async def test_a_custom_asset_in_another_currency_is_converted_to_the_base_currency(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await create_house(client, alice, symbol="MY:FLAT", currency="EUR")
    await put_prices(client, alice, "MY:FLAT", {date(2024, 3, 1): "200000"})
    portfolio_id = await hold(client, alice, "Abroad", "MY:FLAT", "200000", "2024-03-01")
    perf = await performance(client, alice, portfolio_id, date(2024, 4, 30))
    bars = await client.get(
        "/api/v1/market/historical/EURUSD=X",
        params={"start": "2024-04-20", "end": "2024-04-30"},
        headers=alice.headers,
    )
    rate = Decimal(str(bars.json()["bars"][-1]["close"]))
    assert perf["marketValue"] == str((200000 * rate).quantize(Decimal("0.01")))


async def test_custom_assets_work_in_transactions_import_and_export(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await create_house(
        client, alice, symbol="PE:ACME", name="Acme shares", assetClass="private_equity"
    )
    await put_prices(client, alice, "PE:ACME", {date(2022, 1, 3): "10", date(2023, 1, 3): "14"})
    created = await client.post(f"{PORTFOLIO}/", json={"name": "Angel"}, headers=alice.headers)
    portfolio_id = created.json()["portfolioId"]
    csv = (
        "date,symbol,type,quantity,price\n"
        "2022-01-03,PE:ACME,buy,1000,10\n"
        "2023-06-01,pe:acme,sell,400,14\n"
        "2021-06-01,PE:ACME,buy,5,9\n"
    )
    refused = await client.post(
        f"{PORTFOLIO}/{portfolio_id}/import",
        content=csv,
        headers={**alice.headers, "Content-Type": "text/csv"},
    )
    body = assert_problem(refused, 422)
    assert "line 4" in body["detail"]
    assert "no price before 2022-01-03" in body["detail"]

    imported = await client.post(
        f"{PORTFOLIO}/{portfolio_id}/import",
        content=csv.rsplit("2021", 1)[0],
        headers={**alice.headers, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    assert [t["symbol"] for t in imported.json()["transactions"]] == ["PE:ACME", "PE:ACME"]
    exported = await client.get(f"{PORTFOLIO}/{portfolio_id}/export", headers=alice.headers)
    assert "PE:ACME" in exported.text
    perf = await performance(client, alice, portfolio_id, date(2024, 1, 31))
    (holding,) = perf["holdings"]
    assert holding["quantity"] == "600"
    assert holding["value"] == "8400.00"
    assert perf["realizedPnl"] == "1600.00"  # 400 x (14 - 10)


async def test_a_custom_asset_in_a_ledger_cannot_be_deleted_until_it_leaves_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await create_house(client, alice)
    await put_prices(client, alice, "MY:HOUSE", {date(2024, 1, 2): "400000"})
    portfolio_id = await hold(client, alice, "Home", "MY:HOUSE", "1", "2024-02-01")
    refused = await client.delete(f"{ASSETS}/MY:HOUSE", headers=alice.headers)
    assert "'Home'" in assert_problem(refused, 409)["detail"]
    assert (await client.get(f"{ASSETS}/MY:HOUSE", headers=alice.headers)).status_code == 200

    gone = await client.delete(f"{PORTFOLIO}/{portfolio_id}", headers=alice.headers)
    assert gone.status_code == 204
    deleted = await client.delete(f"{ASSETS}/MY:HOUSE", headers=alice.headers)
    assert deleted.status_code == 204
    assert_problem(await client.get(f"{ASSETS}/MY:HOUSE", headers=alice.headers), 404)
    assert_problem(await client.get(f"{ASSETS}/MY:HOUSE/prices", headers=alice.headers), 404)
