"""Re-imports add only what is new: every imported row leaves a fingerprint in its portfolio
(the source's id, or the normalised row counted within its file), kept when the transaction is
deleted or changed by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from flint.portfolio.fingerprints import fingerprints
from flint.portfolio.imports import Parsed
from flint.portfolio.schemas import TransactionIn
from tests.conftest import Account, assert_problem, error_fields
from tests.portfolio.test_import_export import CSV, V1, new_portfolio

FIRST = """date,symbol,type,quantity,price,fee,amount,currency
2024-01-02,,deposit,,,,10000,USD
2024-01-03,AAPL,buy,10,185.50,1.00,,USD
2024-01-03,AAPL,buy,10,185.50,1.00,,USD
2024-03-01,AAPL,dividend,,,,4.80,USD
"""
# The newer export: the same rows written differently (numbers, no currency column, its
# settled default), a third equal buy and a sale.
NEWER = """Date,Ticker,Action,Shares,Price,Commission,Amount
2024-01-02,,deposit,,,,10000.00
2024-01-03,aapl,BUY,10.0,185.5,1,
2024-01-03,AAPL,buy,10.00,185.500,1.0,
2024-01-03,AAPL,buy,10,185.50,1.00,
2024-03-01,AAPL,dividend,,,,4.8
2024-05-01,AAPL,sell,5,190,,
"""


async def _import(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, body: str, **query: str
) -> httpx.Response:
    return await client.post(
        f"{V1}/{portfolio_id}/import", content=body, params=query, headers=who.headers | CSV
    )


async def _ledger(client: httpx.AsyncClient, who: Account, portfolio_id: str) -> list[Any]:
    response = await client.get(f"{V1}/{portfolio_id}/transactions", headers=who.headers)
    assert response.status_code == 200, response.text
    rows: list[Any] = response.json()["transactions"]
    return rows


def _rows(ledger: list[Any]) -> list[tuple[str, str, str | None, str | None]]:
    return sorted((r["date"], r["type"], r["symbol"], r["quantity"]) for r in ledger)


async def test_the_same_file_twice_adds_nothing_the_second_time(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    first = await _import(client, alice, portfolio_id, FIRST)
    assert first.status_code == 201, first.text
    assert len(first.json()["transactions"]) == 4  # both equal buys: two trades
    assert first.json()["skipped"] == 0
    assert first.json()["imported"] == {"deposit": 1, "buy": 2, "dividend": 1}
    before = await _ledger(client, alice, portfolio_id)

    again = await _import(client, alice, portfolio_id, FIRST)
    assert again.status_code == 200, again.text
    assert again.json() == {"transactions": [], "skipped": 4, "imported": {}}
    assert await _ledger(client, alice, portfolio_id) == before


async def test_a_newer_overlapping_export_adds_only_its_new_rows(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    assert (await _import(client, alice, portfolio_id, FIRST)).status_code == 201

    newer = await _import(client, alice, portfolio_id, NEWER)
    assert newer.status_code == 201, newer.text
    body = newer.json()
    assert [(r["date"], r["type"], r["quantity"]) for r in body["transactions"]] == [
        ("2024-01-03", "buy", "10"),
        ("2024-05-01", "sell", "5"),
    ]
    assert body["skipped"] == 4
    assert body["imported"] == {"buy": 1, "sell": 1}
    ledger = await _ledger(client, alice, portfolio_id)
    assert [r["type"] for r in ledger].count("buy") == 3
    assert len(ledger) == 6

    # And the newer export once more: everything is known now.
    again = await _import(client, alice, portfolio_id, NEWER)
    assert (again.status_code, again.json()["skipped"]) == (200, 6)


async def test_equal_rows_in_a_file_are_counted_past_one_query_of_names(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """More equal rows than are looked up by name (`LISTED_MAX`): the portfolio's fingerprints
    are read whole, and the k-th equal row is still told from the others."""
    portfolio_id = await new_portfolio(client, alice)
    header = "date,type,amount,currency\n"
    row = "2024-02-01,deposit,25,USD\n"
    first = await _import(client, alice, portfolio_id, header + row * 520)
    assert len(first.json()["transactions"]) == 520, first.text
    more = await _import(client, alice, portfolio_id, header + row * 522)
    assert more.status_code == 201, more.text
    assert (len(more.json()["transactions"]), more.json()["skipped"]) == (2, 520)
    fewer = await _import(client, alice, portfolio_id, header + row * 3)
    assert (fewer.status_code, fewer.json()["skipped"]) == (200, 3)
    assert len(await _ledger(client, alice, portfolio_id)) == 522


async def test_on_duplicate_fail_names_every_known_row_and_adds_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    assert (await _import(client, alice, portfolio_id, FIRST)).status_code == 201
    before = await _ledger(client, alice, portfolio_id)

    refused = await _import(client, alice, portfolio_id, NEWER, onDuplicate="fail")
    body = assert_problem(refused, 422)
    assert error_fields(body) == {"line 2", "line 3", "line 4", "line 6"}
    today = datetime.now(UTC).date().isoformat()
    assert {e["message"] for e in body["errors"]} == {f"already imported on {today}"}
    assert f"line 6: already imported on {today}" in body["detail"]
    assert await _ledger(client, alice, portfolio_id) == before

    # A file with no known row imports as usual with fail.
    fresh = "date,symbol,type,quantity,price\n2024-06-03,MSFT,buy,2,410\n"
    added = await _import(client, alice, portfolio_id, fresh, onDuplicate="fail")
    assert added.status_code == 201, added.text
    assert added.json()["imported"] == {"buy": 1}
    bad = await _import(client, alice, portfolio_id, FIRST, onDuplicate="sometimes")
    assert "query.onDuplicate" in error_fields(assert_problem(bad, 422))


async def test_a_row_deleted_by_hand_is_not_imported_again(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    assert (await _import(client, alice, portfolio_id, FIRST)).status_code == 201
    # Replacing the lots with one of the two buys deletes the other by hand.
    lot = {"symbol": "AAPL", "quantity": "10", "purchasePrice": "185.50"}
    replaced = await client.put(
        f"{V1}/{portfolio_id}",
        json={"name": "Imported", "assets": [lot | {"purchaseDate": "2024-01-03"}]},
        headers=alice.headers,
    )
    assert replaced.status_code == 200, replaced.text
    before = await _ledger(client, alice, portfolio_id)
    assert [r["type"] for r in before].count("buy") == 1

    again = await _import(client, alice, portfolio_id, FIRST)
    assert (again.status_code, again.json()["skipped"]) == (200, 4)
    assert await _ledger(client, alice, portfolio_id) == before


async def test_a_row_changed_by_hand_is_not_imported_beside_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    assert (await _import(client, alice, portfolio_id, FIRST)).status_code == 201
    lots = [
        {"symbol": "AAPL", "quantity": q, "purchasePrice": "185.50", "purchaseDate": "2024-01-03"}
        for q in ("10", "12")  # the second buy corrected by hand: 12 units, not 10
    ]
    replaced = await client.put(
        f"{V1}/{portfolio_id}", json={"name": "Imported", "assets": lots}, headers=alice.headers
    )
    assert replaced.status_code == 200, replaced.text

    again = await _import(client, alice, portfolio_id, NEWER)
    assert again.status_code == 201, again.text
    assert again.json()["imported"] == {"buy": 1, "sell": 1}  # only the newer export's own
    buys = [r["quantity"] for r in await _ledger(client, alice, portfolio_id) if r["type"] == "buy"]
    assert sorted(Decimal(q) for q in buys) == [10, 10, 12]


async def test_fingerprints_are_the_portfolios_own(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    assert (await _import(client, alice, portfolio_id, FIRST)).status_code == 201
    before = await _ledger(client, alice, portfolio_id)

    assert_problem(await _import(client, bob, portfolio_id, NEWER), 404)
    assert_problem(await _import(client, bob, portfolio_id, NEWER, onDuplicate="fail"), 404)
    assert await _ledger(client, alice, portfolio_id) == before

    for who in (alice, bob):  # another portfolio, hers or his, imports every row
        other = await new_portfolio(client, who)
        response = await _import(client, who, other, FIRST)
        assert (response.status_code, response.json()["skipped"]) == (201, 0), response.text
        assert len(response.json()["transactions"]) == 4


async def test_rows_entered_by_hand_are_not_matched_and_refused_files_leave_no_fingerprints(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    trade = {"date": "2024-01-03", "type": "buy", "symbol": "AAPL", "quantity": "10"}
    entered = await client.post(
        f"{V1}/{portfolio_id}/transactions",
        json=trade | {"price": "185.50", "fee": "1.00", "currency": "USD"},
        headers=alice.headers,
    )
    assert entered.status_code == 201, entered.text
    oversold = FIRST + "2024-05-01,AAPL,sell,100,190,,,USD\n"
    assert error_fields(assert_problem(await _import(client, alice, portfolio_id, oversold), 422))
    assert len(await _ledger(client, alice, portfolio_id)) == 1

    imported = await _import(client, alice, portfolio_id, FIRST)
    assert (imported.status_code, imported.json()["skipped"]) == (201, 0), imported.text
    ledger = await _ledger(client, alice, portfolio_id)
    assert _rows(ledger).count(("2024-01-03", "buy", "AAPL", "10")) == 3


def _entry(**values: Any) -> TransactionIn:
    return TransactionIn.model_validate(
        {"date": "2024-01-03", "type": "buy", "symbol": "AAPL"} | values
    )


def test_fingerprints_take_the_sources_id_else_the_normalised_row() -> None:
    same = [_entry(quantity=q, price=p) for q, p in (("10", "185.5"), ("10.00", "185.50"))]
    other = _entry(quantity="10", price="185.51")
    parsed = Parsed(
        [*same, other, same[0], same[0]],
        ["line 2", "line 3", "line 4", "line 5", "line 6"],
        [None, None, None, "T-1", "T-1"],
    )
    prints = fingerprints(parsed, "ibkr-flex", ["USD"] * 5)
    row = prints[0].split("#")[0]
    assert prints == [f"{row}#1", f"{row}#2", prints[2], "ibkr-flex:T-1", "ibkr-flex:T-1#2"]
    assert prints[2].endswith("#1")
    assert not prints[2].startswith(row)
    # The format is not part of a row's hash; its currency is.
    assert fingerprints(Parsed(same[:1], ["line 2"], [None]), "flint", ["USD"]) == [prints[0]]
    assert fingerprints(Parsed(same[:1], ["line 2"], [None]), "flint", ["EUR"]) != [prints[0]]
    long_id = "x" * 300
    (long,) = fingerprints(Parsed(same[:1], ["line 2"], [long_id]), "ibkr-flex", ["USD"])
    assert long.startswith("ibkr-flex:sha256:")
    assert len(long) <= 200
