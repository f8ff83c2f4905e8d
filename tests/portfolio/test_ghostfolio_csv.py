"""Ghostfolio's CSV import file (the columns its Import button reads, by its own names) sent to
``POST /portfolio/import/ghostfolio``: read as the export's activities are, problems named by
the file's lines and columns, again without duplicates, and as a spreadsheet saves it."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from tests.conftest import Account, assert_problem, error_fields
from tests.portfolio.test_ghostfolio import IBKR, IMPORT, ledger, rows_of, sample, send

V1 = "/api/v1/portfolio"
HUGE = "9" * 30 + "E999970"
GHOSTFOLIO_CSV = """Date,Code,DataSource,Currency,Price,Quantity,Action,Fee,Note
01-09-2021,Account Opening Fee,MANUAL,USD,0,0,fee,49,
16-09-2021,MSFT,YAHOO,USD,298.580,5,buy,19.00,My first order
17/11/2021,MSFT,YAHOO,USD,0.62,5,dividend,0.00,
01.01.2022,Penthouse Apartment,MANUAL,USD,500000.0,1,buy,0.00,
2022-03-01,MSFT,,USD,300,-2,SELL,1,sold without a data source
"""
"""After Ghostfolio's own test file (test/import/ok.csv): its date formats, a MANUAL fee and
asset, a sign Ghostfolio drops."""


async def send_csv(
    client: httpx.AsyncClient, who: Account, data: bytes, **params: str
) -> httpx.Response:
    return await client.post(
        IMPORT, content=data, params=params, headers=who.headers | {"Content-Type": "text/csv"}
    )


async def test_ghostfolios_csv_imports_as_its_activities(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await send_csv(client, alice, GHOSTFOLIO_CSV.encode())
    assert response.status_code == 201, response.text
    body = response.json()
    (made,) = body["portfolios"]
    assert made["name"] == "Ghostfolio (no account)"
    assert made["transactions"] == {"fee": 1, "buy": 2, "dividend": 1, "sell": 1}
    # What is not imported is named as the file names it (`activities[].comment`).
    assert [n["where"] for n in body["notImported"]] == ["Note"]
    assert [(a["symbol"], a["created"]) for a in body["customAssets"]] == [
        ("GF:PENTHOUSE-APARTMENT", True)
    ]
    rows = rows_of(await ledger(client, alice, made["portfolioId"]))
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows] == [
        ("2021-09-01", "fee", None, None, None, Decimal(0), Decimal(49)),
        ("2021-09-16", "buy", "MSFT", Decimal(5), Decimal("298.58"), Decimal(19), None),
        ("2021-11-17", "dividend", "MSFT", None, None, Decimal(0), Decimal("3.1")),
        ("2022-01-01", "buy", "GF:PENTHOUSE-APARTMENT", Decimal(1), Decimal(500000), 0, None),
        ("2022-03-01", "sell", "MSFT", Decimal(2), Decimal(300), Decimal(1), None),
    ]
    again = await send_csv(client, alice, GHOSTFOLIO_CSV.encode())
    assert again.status_code == 200, again.text
    assert again.json()["portfolios"][0]["skipped"] == 5


async def test_a_spreadsheets_ghostfolio_csv_reads_the_same(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    as_saved = """Date;Code;DataSource;Currency;Price;Quantity;Action;Fee;Note
01.09.2021;Account Opening Fee;MANUAL;USD;0;0;fee;49;
16.09.2021;MSFT;YAHOO;USD;298,580;5;buy;19,00;My first order
17.11.2021;MSFT;YAHOO;USD;0,62;5;dividend;0,00;
01.01.2022;Penthouse Apartment;MANUAL;USD;500.000,0;1;buy;0,00;
01.03.2022;MSFT;;USD;300;-2;SELL;1;sold without a data source
"""
    for who, data in ((alice, GHOSTFOLIO_CSV.encode()), (bob, as_saved.encode("cp1252"))):
        response = await send_csv(client, who, data)
        assert response.status_code == 201, response.text
    mine, theirs = [await only_ledger(client, who) for who in (alice, bob)]
    assert mine == theirs


async def only_ledger(client: httpx.AsyncClient, who: Account) -> list[tuple[object, ...]]:
    listed = await client.get(f"{V1}/", headers=who.headers)
    (portfolio,) = listed.json()["portfolios"]
    return rows_of(await ledger(client, who, portfolio["portfolioId"]))


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("16-09-2021,NOSUCHCO,YAHOO,USD,298.580,5,buy,19.00,", "line 3.Code"),
        ("16-09-2021,MSFT,YAHOO,USD,1_000,5,buy,19.00,", "line 3.Price"),
        ("16-09-2021,MSFT,YAHOO,USD,298.58,5,hold,19.00,", "line 3.Action"),
        ("31-02-2021,MSFT,YAHOO,USD,298.58,5,buy,19.00,", "line 3.Date"),
        ("16-09-2021,MSFT,YAHOO,USD,298.58,NaN,buy,19.00,", "line 3.Quantity"),
        # More digits than the decimal context keeps, at the largest exponent it has
        (f"16-09-2021,MSFT,YAHOO,USD,{HUGE},5,buy,19.00,", "line 3.Price"),
        (f"16-09-2021,MSFT,YAHOO,USD,298.58,{HUGE},buy,19.00,", "line 3.Quantity"),
        (f"16-09-2021,MSFT,YAHOO,USD,298.58,5,buy,{HUGE},", "line 3.Fee"),
        (f"01-09-2021,Account Opening Fee,MANUAL,USD,0,0,fee,{HUGE},", "line 3.Fee"),
    ],
)
async def test_a_bad_row_is_named_by_its_line_and_column_and_nothing_is_created(
    client: httpx.AsyncClient, alice: Account, row: str, field: str
) -> None:
    data = [*GHOSTFOLIO_CSV.splitlines()[:2], row]
    body = assert_problem(await send_csv(client, alice, "\n".join(data).encode()), 422)
    assert error_fields(body) == {field}, body
    assert "activities[" not in body["detail"]
    listed = await client.get(f"{V1}/", headers=alice.headers)
    assert listed.json()["portfolios"] == []


async def test_a_csv_without_ghostfolios_columns_is_named_at_its_header(
    client: httpx.AsyncClient, alice: Account
) -> None:
    data = b"Date,Code,Action,Amount\n2021-09-16,MSFT,buy,100\n"
    body = assert_problem(await send_csv(client, alice, data), 422)
    assert error_fields(body) == {"line 1"}
    messages = [e["message"] for e in body["errors"]]
    assert "no ccy or currency or currencyprimary column" in messages
    assert "no price or tradeprice or unitprice or value column" in messages


async def test_an_account_is_named_by_its_id_or_by_the_name_of_the_portfolio_made_of_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """As Ghostfolio matches a CSV's account by id or by name (any case)."""
    first = await send(client, alice, sample())
    ibkr = next(p for p in first.json()["portfolios"] if p["accountId"] == IBKR)
    before = len(await ledger(client, alice, ibkr["portfolioId"]))
    rows = (
        "Date,Code,Currency,Price,Quantity,Action,Fee,Account\n"
        "2024-07-01,MSFT,USD,456.73,3,buy,1,interactive brokers\n"
        f"2024-07-02,AAPL,USD,216.75,2,buy,1,{IBKR}\n"
    )
    response = await send_csv(client, alice, rows.encode())
    assert response.status_code == 201, response.text
    (into,) = response.json()["portfolios"]
    assert (into["portfolioId"], into["created"], into["transactions"]) == (
        ibkr["portfolioId"],
        False,
        {"buy": 2},
    )
    assert len(await ledger(client, alice, ibkr["portfolioId"])) == before + 2
    unknown = rows.replace("interactive brokers", "Some Other Broker")
    body = assert_problem(await send_csv(client, alice, unknown.encode()), 422)
    assert error_fields(body) == {"line 2.Account"}
