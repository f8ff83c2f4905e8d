"""Correcting the ledger one transaction at a time (`GET`, `PUT`, `DELETE
/portfolio/{portfolioId}/transactions/{transactionId}`): a change is held to the rules a new
transaction is, the ledger afterwards must still add up (else 422 and nothing changes), the
figures follow it, mirrored rows are the sync's (409), and an imported row deleted stays
deleted when its file comes again."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.conftest import Account, assert_problem, error_fields
from tests.portfolio.test_ledger_rules import V1, new_portfolio, performance, record, weekday


async def ledger(client: httpx.AsyncClient, who: Account, portfolio_id: str) -> list[Any]:
    response = await client.get(f"{V1}/{portfolio_id}/transactions", headers=who.headers)
    assert response.status_code == 200, response.text
    rows: list[Any] = response.json()["transactions"]
    return rows


async def booked(client: httpx.AsyncClient, who: Account, portfolio_id: str, **row: Any) -> str:
    response = await record(client, who, portfolio_id, **row)
    assert response.status_code == 201, response.text
    transaction_id: str = response.json()["transactionId"]
    return transaction_id


def at(portfolio_id: str, transaction_id: str) -> str:
    return f"{V1}/{portfolio_id}/transactions/{transaction_id}"


async def test_a_wrong_price_is_corrected_in_place_and_the_figures_follow(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    day = weekday(30)
    await booked(client, alice, portfolio_id, date=day, type="deposit", amount=5000)
    buy = await booked(
        client, alice, portfolio_id, date=day, type="buy", symbol="AAPL", quantity=10, price=1500
    )  # meant 150
    assert (await performance(client, alice, portfolio_id))["costBasis"] == "15000.00"
    version = (await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)).json()["version"]

    body = {"date": str(day), "type": "buy", "symbol": "aapl", "quantity": "10", "price": "150"}
    corrected = await client.put(
        at(portfolio_id, buy), json=body | {"fee": "1"}, headers=alice.headers
    )

    assert corrected.status_code == 200, corrected.text
    assert corrected.json() == {
        "transactionId": buy,
        "date": str(day),
        "type": "buy",
        "symbol": "AAPL",
        "quantity": "10",
        "price": "150.00",
        "fee": "1.00",
        "amount": None,
        "currency": "USD",
        "sourceTransactionId": None,
    }
    read = await client.get(at(portfolio_id, buy), headers=alice.headers)
    assert read.json() == corrected.json()
    assert [row["transactionId"] for row in await ledger(client, alice, portfolio_id)][1] == buy
    assert (await performance(client, alice, portfolio_id))["costBasis"] == "1501.00"
    after = (await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)).json()
    assert after["version"] == version + 1


async def test_a_deleted_transaction_is_gone_from_the_ledger_and_the_figures(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    day = weekday(30)
    kept = await booked(client, alice, portfolio_id, date=day, type="deposit", amount=1000)
    twice = await booked(client, alice, portfolio_id, date=day, type="deposit", amount=1000)

    deleted = await client.delete(at(portfolio_id, twice), headers=alice.headers)

    assert deleted.status_code == 204, deleted.text
    assert [row["transactionId"] for row in await ledger(client, alice, portfolio_id)] == [kept]
    assert (await performance(client, alice, portfolio_id))["totals"]["deposits"] == "1000.00"
    assert_problem(await client.get(at(portfolio_id, twice), headers=alice.headers), 404)
    assert_problem(await client.delete(at(portfolio_id, twice), headers=alice.headers), 404)


async def test_a_change_that_breaks_the_ledger_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    early, late = weekday(60), weekday(30)
    deposit = await booked(client, alice, portfolio_id, date=early, type="deposit", amount=5000)
    buy = await booked(
        client, alice, portfolio_id, date=early, type="buy", symbol="AAPL", quantity=10, price=100
    )
    await booked(
        client, alice, portfolio_id, date=late, type="sell", symbol="AAPL", quantity=8, price=110
    )
    await booked(client, alice, portfolio_id, date=late, type="withdrawal", amount=4500)
    await booked(client, alice, portfolio_id, date=late, type="dividend", symbol="AAPL", amount=5)
    before = await ledger(client, alice, portfolio_id)

    gone = assert_problem(await client.delete(at(portfolio_id, buy), headers=alice.headers), 422)
    assert "a dividend on AAPL" in gone["detail"]
    assert error_fields(gone) == {"path.transactionId"}
    fewer = {"date": str(early), "type": "buy", "symbol": "AAPL", "quantity": "5", "price": "100"}
    too_few = await client.put(at(portfolio_id, buy), json=fewer, headers=alice.headers)
    assert "exceeds the 5 held then" in assert_problem(too_few, 422)["detail"]
    moved = fewer | {"quantity": "10", "date": str(late + (late - early))}
    refused_day = await client.put(at(portfolio_id, buy), json=moved, headers=alice.headers)
    assert_problem(refused_day, 422)  # in the future, or after the sale and the dividend
    unfunded = await client.delete(at(portfolio_id, deposit), headers=alice.headers)
    problem = assert_problem(unfunded, 422)
    assert "overdraws the cash" in problem["detail"]
    assert error_fields(problem) == {"path.transactionId"}
    smaller = {"date": str(early), "type": "deposit", "amount": "100"}
    short = await client.put(at(portfolio_id, deposit), json=smaller, headers=alice.headers)
    assert "overdraws the cash" in assert_problem(short, 422)["detail"]
    unknown = {"date": str(early), "type": "buy", "symbol": "ZZZZQ", "quantity": "1", "price": "1"}
    bad = await client.put(at(portfolio_id, buy), json=unknown, headers=alice.headers)
    assert error_fields(assert_problem(bad, 422)) == {"body.symbol"}

    assert await ledger(client, alice, portfolio_id) == before


async def test_another_portfolios_transaction_is_not_found(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    mine = await new_portfolio(client, alice)
    other = await new_portfolio(client, alice, name="Other")
    theirs = await new_portfolio(client, bob)
    day = str(weekday(30))
    row = await booked(client, alice, mine, date=day, type="deposit", amount=100)
    body = {"date": day, "type": "deposit", "amount": "200"}
    for portfolio, who in ((other, alice), (theirs, bob)):
        assert_problem(await client.get(at(portfolio, row), headers=who.headers), 404)
        assert_problem(await client.put(at(portfolio, row), json=body, headers=who.headers), 404)
        assert_problem(await client.delete(at(portfolio, row), headers=who.headers), 404)
    assert_problem(await client.get(at(mine, row), headers=bob.headers), 404)
    [kept] = await ledger(client, alice, mine)
    assert Decimal(kept["amount"]) == 100


async def test_an_imported_row_deleted_is_not_imported_again(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    day = weekday(30)
    csv = f"date,type,amount\n{day},deposit,100\n{day},deposit,250\n".encode()
    headers = alice.headers | {"Content-Type": "text/csv"}
    first = await client.post(f"{V1}/{portfolio_id}/import", content=csv, headers=headers)
    assert first.status_code == 201, first.text
    wrong = next(r for r in first.json()["transactions"] if r["amount"] == "250.00")
    deleted = await client.delete(at(portfolio_id, wrong["transactionId"]), headers=alice.headers)
    assert deleted.status_code == 204, deleted.text

    again = await client.post(f"{V1}/{portfolio_id}/import", content=csv, headers=headers)

    assert again.json()["skipped"] == 2
    assert [row["amount"] for row in await ledger(client, alice, portfolio_id)] == ["100.00"]


async def test_the_ledger_is_read_a_page_at_a_time_in_the_order_it_replays(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    days = [weekday(70), weekday(40), weekday(10)]
    rows = [f"{days[k % 3]},deposit,{k + 1}" for k in range(25)]  # each day's rows interleaved
    csv = ("date,type,amount\n" + "\n".join(rows) + "\n").encode()
    headers = alice.headers | {"Content-Type": "text/csv"}
    imported = await client.post(f"{V1}/{portfolio_id}/import", content=csv, headers=headers)
    assert imported.status_code == 201, imported.text
    whole = await client.get(f"{V1}/{portfolio_id}/export?format=json", headers=alice.headers)
    expected = whole.json()["transactions"]
    assert [Decimal(r["amount"]) for r in expected[:3]] == [1, 4, 7]  # by day, then as entered

    seen: list[Any] = []
    cursor: str | None = None
    for _ in range(4):
        query: dict[str, Any] = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        response = await client.get(
            f"{V1}/{portfolio_id}/transactions", params=query, headers=alice.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["transactions"]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert [len(seen), cursor] == [25, None]
    assert seen == expected
    first = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert first.json() == {"transactions": expected, "nextCursor": None}  # 1000 by default

    for bad in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 1001}):
        refused = await client.get(
            f"{V1}/{portfolio_id}/transactions", params=bad, headers=alice.headers
        )
        assert error_fields(assert_problem(refused, 422)) == {f"query.{next(iter(bad))}"}


async def test_an_export_streams_the_whole_ledger_in_chunks_as_one_file(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    day = weekday(20)
    rows = "".join(f"{day},deposit,{k + 1}\n" for k in range(1203))  # three chunks and a bit
    headers = alice.headers | {"Content-Type": "text/csv"}
    imported = await client.post(
        f"{V1}/{portfolio_id}/import",
        content=b"date,type,amount\n" + rows.encode(),
        headers=headers,
    )
    assert imported.status_code in (201, 202), imported.text
    exported = await client.get(f"{V1}/{portfolio_id}/export?format=csv", headers=alice.headers)
    lines = exported.text.splitlines()
    assert lines[0] == "date,symbol,type,quantity,price,fee,amount,currency"
    assert [line.split(",")[6] for line in lines[1:]] == [str(k + 1) for k in range(1203)]
    as_json = await client.get(f"{V1}/{portfolio_id}/export?format=json", headers=alice.headers)
    assert [r["amount"] for r in as_json.json()["transactions"]] == [
        f"{k + 1}.00" for k in range(1203)
    ]
    empty = await new_portfolio(client, alice, name="Empty")
    for fmt, body in (("csv", "date,symbol,type,quantity,price,fee,amount,currency\n"),):
        answered = await client.get(f"{V1}/{empty}/export?format={fmt}", headers=alice.headers)
        assert answered.text == body
    answered = await client.get(f"{V1}/{empty}/export?format=json", headers=alice.headers)
    assert answered.json() == {"transactions": [], "nextCursor": None}


async def test_a_portfolio_is_renamed_without_sending_its_lots(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice, allowNegativeCash=True)
    day = weekday(30)
    await booked(
        client, alice, portfolio_id, date=day, type="buy", symbol="AAPL", quantity=2, price=100
    )
    await booked(client, alice, portfolio_id, date=day, type="withdrawal", amount=50)
    before = (await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)).json()
    rows = await ledger(client, alice, portfolio_id)

    renamed = await client.patch(
        f"{V1}/{portfolio_id}",
        json={"name": "Retirement", "baseCurrency": None},
        headers=alice.headers,
    )

    assert renamed.status_code == 200, renamed.text
    after = renamed.json()
    assert (after["name"], after["baseCurrency"], after["version"]) == (
        "Retirement",
        "USD",
        before["version"] + 1,
    )
    assert after["assets"] == before["assets"]
    assert await ledger(client, alice, portfolio_id) == rows
    assert (await client.get(f"{V1}/{portfolio_id}", headers=alice.headers)).json() == after

    strict = await client.patch(
        f"{V1}/{portfolio_id}", json={"allowNegativeCash": False}, headers=alice.headers
    )
    problem = assert_problem(strict, 422)
    assert "overdraws the cash" in problem["detail"]
    assert error_fields(problem) == {"body.allowNegativeCash"}
    unknown = await client.patch(
        f"{V1}/{portfolio_id}", json={"baseCurrency": "XYZ"}, headers=alice.headers
    )
    assert error_fields(assert_problem(unknown, 422)) == {"body.baseCurrency"}
    euros = await client.patch(
        f"{V1}/{portfolio_id}", json={"baseCurrency": "EUR"}, headers=alice.headers
    )
    assert euros.json()["baseCurrency"] == "EUR"
    assert (await performance(client, alice, portfolio_id))["baseCurrency"] == "EUR"
    same = await client.patch(f"{V1}/{portfolio_id}", json={}, headers=alice.headers)
    assert same.json()["version"] == euros.json()["version"]  # nothing sent, nothing changed
    assert_problem(
        await client.patch(f"{V1}/{portfolio_id}", json={"name": "Mine"}, headers=bob.headers), 404
    )


async def test_the_ledger_pages_only_what_is_asked_for(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    early, late = weekday(60), weekday(20)
    await booked(client, alice, portfolio_id, date=early, type="deposit", amount=5000)
    for day in (early, late):
        for symbol in ("AAPL", "BRK-B"):
            await booked(
                client,
                alice,
                portfolio_id,
                date=day,
                type="buy",
                symbol=symbol,
                quantity=1,
                price=10,
            )
    await booked(client, alice, portfolio_id, date=late, type="dividend", symbol="AAPL", amount=3)

    async def rows(**query: Any) -> list[tuple[str, str, str | None]]:
        response = await client.get(
            f"{V1}/{portfolio_id}/transactions", params=query, headers=alice.headers
        )
        assert response.status_code == 200, response.text
        return [(r["date"], r["type"], r["symbol"]) for r in response.json()["transactions"]]

    assert await rows(type="buy", symbol="brk.b") == [
        (str(early), "buy", "BRK-B"),
        (str(late), "buy", "BRK-B"),
    ]
    assert await rows(symbol="AAPL", start=str(late)) == [
        (str(late), "buy", "AAPL"),
        (str(late), "dividend", "AAPL"),
    ]
    assert await rows(end=str(early), type="deposit") == [(str(early), "deposit", None)]
    first = await client.get(
        f"{V1}/{portfolio_id}/transactions",
        params={"type": "buy", "limit": 3},
        headers=alice.headers,
    )
    cursor = first.json()["nextCursor"]
    rest = await rows(type="buy", limit=3, cursor=cursor)
    assert len(first.json()["transactions"]) + len(rest) == 4
    backwards = await client.get(
        f"{V1}/{portfolio_id}/transactions",
        params={"start": str(late), "end": str(early)},
        headers=alice.headers,
    )
    assert error_fields(assert_problem(backwards, 422)) == {"query.start"}
    unknown_type = await client.get(
        f"{V1}/{portfolio_id}/transactions", params={"type": "gift"}, headers=alice.headers
    )
    assert error_fields(assert_problem(unknown_type, 422)) == {"query.type"}
    unknown_symbol = await client.get(
        f"{V1}/{portfolio_id}/transactions", params={"symbol": "ZZZZQ"}, headers=alice.headers
    )
    assert error_fields(assert_problem(unknown_symbol, 422)) == {"query.symbol"}


async def test_replacing_the_lots_puts_them_first_on_their_day_and_keeps_the_rest_in_order(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """`PUT /portfolio/{id}` checks the new lots before the day's other rows; the ledger stored
    must replay in that order too (the sale after the five lots it sells, not between them)."""
    portfolio_id = await new_portfolio(client, alice)
    day = str(weekday(30))
    lot = {"symbol": "AAPL", "purchasePrice": "200", "purchaseDate": day}
    one = {"name": "Ledger", "assets": [lot | {"quantity": "5"}]}
    assert (await client.put(f"{V1}/{portfolio_id}", json=one, headers=alice.headers)).is_success
    await booked(
        client, alice, portfolio_id, date=day, type="sell", symbol="AAPL", quantity=5, price=210
    )
    await booked(client, alice, portfolio_id, date=day, type="deposit", amount=100)
    sold = (await ledger(client, alice, portfolio_id))[1]
    five = {"name": "Ledger", "assets": [lot | {"quantity": "1"} for _ in range(5)]}
    sold_first = await client.put(f"{V1}/{portfolio_id}", json=five, headers=alice.headers)
    assert sold_first.status_code == 200, sold_first.text

    rows = await ledger(client, alice, portfolio_id)

    assert [row["type"] for row in rows] == ["buy"] * 5 + ["sell", "deposit"]
    assert rows[5]["transactionId"] == sold["transactionId"]
    again = await booked(client, alice, portfolio_id, date=day, type="deposit", amount=1)
    assert (await ledger(client, alice, portfolio_id))[-1]["transactionId"] == again
