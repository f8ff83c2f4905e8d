"""CSV import (all rows or none, every bad row named, 5 MiB) and export (CSV and JSON)."""

from __future__ import annotations

import httpx

from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/portfolio"
CSV = {"Content-Type": "text/csv"}

GOOD = """Date,Ticker,Action,Shares,Price,Commission,Currency
2024-01-02,,deposit,,10000,,USD
2024-01-03,AAPL,BUY,10,185.50,1.00,USD
2024-02-01,btc-usd,buy,0.05,42000,,USD
2024-03-01,AAPL,dividend,10,0.24,,USD
2024-06-10,AAPL,split,4,,,USD
2024-07-01,AAPL,sell,15,210,1,USD
"""


async def new_portfolio(client: httpx.AsyncClient, who: Account) -> str:
    created = await client.post(f"{V1}/", json={"name": "Imported"}, headers=who.headers)
    portfolio_id: str = created.json()["portfolioId"]
    return portfolio_id


async def test_a_csv_with_aliased_columns_imports_every_row(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    response = await client.post(
        f"{V1}/{portfolio_id}/import", content=GOOD, headers=alice.headers | CSV
    )
    assert response.status_code == 201, response.text
    rows = response.json()["transactions"]
    assert [(r["date"], r["type"], r["symbol"]) for r in rows] == [
        ("2024-01-02", "deposit", None),
        ("2024-01-03", "buy", "AAPL"),
        ("2024-02-01", "buy", "BTC-USD"),
        ("2024-03-01", "dividend", "AAPL"),
        ("2024-06-10", "split", "AAPL"),
        ("2024-07-01", "sell", "AAPL"),
    ]
    assert rows[0]["amount"] == "10000.00"
    assert rows[1]["fee"] == "1.00"
    assert rows[3]["amount"] == "2.40"  # 10 x 0.24 without an amount column


async def test_every_bad_row_is_named_and_nothing_is_imported(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    bad = (
        "date,symbol,type,qty,price\n"
        "2024-01-03,AAPL,buy,10,185\n"
        "2024-01-04,AAPL,buy,-1,185\n"
        "2024-01-05,AAPL,hold,1,185\n"
        "not-a-date,AAPL,buy,1,185\n"
        "2024-01-06,AAPL,buy,1\n"
    )
    response = await client.post(
        f"{V1}/{portfolio_id}/import", content=bad, headers=alice.headers | CSV
    )
    fields = error_fields(assert_problem(response, 422))
    assert {"line 3.quantity", "line 4.type", "line 5.date", "line 6"} <= fields
    assert "line 2" not in " ".join(fields)
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json() == {"transactions": [], "nextCursor": None}

    unknown = "date,symbol,type,qty,price\n2024-01-03,NOSUCHCO,buy,1,1\n2024-01-04,AAPL,sell,1,1\n"
    response = await client.post(
        f"{V1}/{portfolio_id}/import", content=unknown, headers=alice.headers | CSV
    )
    fields = error_fields(assert_problem(response, 422))
    assert fields == {"line 2.symbol"}
    oversell = "date,symbol,type,qty,price\n2024-01-03,AAPL,buy,1,1\n2024-01-04,AAPL,sell,2,1\n"
    response = await client.post(
        f"{V1}/{portfolio_id}/import", content=oversell, headers=alice.headers | CSV
    )
    assert error_fields(assert_problem(response, 422)) == {"line 3.quantity"}
    for garbage in (b"", b"\xff\xfe\x00", b"when,what\n1,2\n"):
        response = await client.post(
            f"{V1}/{portfolio_id}/import", content=garbage, headers=alice.headers | CSV
        )
        assert_problem(response, 422)
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json() == {"transactions": [], "nextCursor": None}


LINE = "2024-01-03,AAPL,buy,1,185\n"


def over_5_mib() -> str:
    """A CSV of one buy repeated until it is over the import's 5 MiB."""
    return "date,symbol,type,qty,price\n" + LINE * (5 * 1024 * 1024 // len(LINE) + 1)


async def test_files_over_5_mib_are_413_and_under_are_read(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    big = over_5_mib()
    response = await client.post(
        f"{V1}/{portfolio_id}/import", content=big, headers=alice.headers | CSV
    )
    assert_problem(response, 413)
    # Over the 1 MiB every other route allows (blank lines are skipped, so few real rows): taken,
    # and imported in the background (tests/portfolio/test_import_background.py).
    ok = "date,symbol,type,qty,price\n" + LINE * 3 + "\n" * (2 * 1024 * 1024)
    response = await client.post(
        f"{V1}/{portfolio_id}/import", content=ok, headers=alice.headers | CSV
    )
    assert response.status_code == 202, response.text
    assert response.json()["sizeBytes"] == len(ok)


async def test_an_export_imports_back_to_the_same_ledger(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    source = await new_portfolio(client, alice)
    await client.post(f"{V1}/{source}/import", content=GOOD, headers=alice.headers | CSV)
    exported = await client.get(f"{V1}/{source}/export", headers=alice.headers)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    copy = await new_portfolio(client, alice)
    imported = await client.post(
        f"{V1}/{copy}/import", content=exported.content, headers=alice.headers | CSV
    )
    assert imported.status_code == 201, imported.text

    def strip(rows: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in row.items() if k != "transactionId"} for row in rows]

    as_json = await client.get(
        f"{V1}/{source}/export", params={"format": "json"}, headers=alice.headers
    )
    copied = await client.get(f"{V1}/{copy}/transactions", headers=alice.headers)
    assert strip(copied.json()["transactions"]) == strip(as_json.json()["transactions"])
    assert_problem(await client.get(f"{V1}/{source}/export", headers=bob.headers), 404)
    bad = await client.get(f"{V1}/{source}/export", params={"format": "xls"}, headers=alice.headers)
    assert_problem(bad, 422)


async def test_numbers_beyond_any_price_are_422_naming_the_line(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Quantities and prices a Decimal holds but no ledger can (an exponent past the context,
    signalling NaN, infinities, more digits than the context keeps at the largest exponent
    it has): 422 naming each line, nothing imported (they were 500s)."""
    portfolio_id = await new_portfolio(client, alice)
    bad = (
        "date,symbol,type,quantity,price\n"
        "2025-03-04,,deposit,1e999999,1e999999\n"
        "2025-03-05,,deposit,sNaN,2\n"
        "2025-03-06,,deposit,Infinity,\n"
        "2025-03-07,AAPL,buy,1,-Infinity\n"
        "2025-03-10,AAPL,buy,NaN,100\n"
        "2025-03-11,,deposit,,1E+400\n"
        f"2025-03-12,,deposit,{'9' * 30}E999970,2\n"
    )
    response = await client.post(
        f"{V1}/{portfolio_id}/import", content=bad, headers=alice.headers | CSV
    )
    body = assert_problem(response, 422)
    named = {field.split(".")[0] for field in error_fields(body)}
    assert named == {"line 2", "line 3", "line 4", "line 5", "line 6", "line 7", "line 8"}
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json()["transactions"] == []


async def test_the_preset_names_the_format_and_auto_recognises_flints_own(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    url = f"{V1}/{portfolio_id}/import"
    auto = await client.post(
        url, params={"preset": "auto"}, content=GOOD, headers=alice.headers | CSV
    )
    assert auto.status_code == 201, auto.text
    assert len(auto.json()["transactions"]) == 6

    unknown = await client.post(
        url, params={"preset": "quicken"}, content=GOOD, headers=alice.headers | CSV
    )
    assert "query.preset" in error_fields(assert_problem(unknown, 422))
    unrecognised = await client.post(
        url, params={"preset": "auto"}, content=b"when,what\n1,2\n", headers=alice.headers | CSV
    )
    body = assert_problem(unrecognised, 422)
    assert "no preset recognises this file" in body["detail"]
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert len(ledger.json()["transactions"]) == 6
