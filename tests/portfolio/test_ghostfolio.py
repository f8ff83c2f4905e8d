"""Ghostfolio's export file in (portfolios, ledgers, custom assets; all or nothing) and out
(`export?format=ghostfolio`), and back in to the same ledger."""

from __future__ import annotations

import asyncio
import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/portfolio"
IMPORT = f"{V1}/import/ghostfolio"
SAMPLE = Path(__file__).parent / "samples" / "ghostfolio_export.json"
IBKR = "b2d3fe1d-d6a8-41a3-be39-07ef5e9480f0"
PRIVATE = "6f1c0e2a-93b4-4a57-8d1e-2c7b9f40a311"


def sample() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SAMPLE.read_text())
    return loaded


async def send(
    client: httpx.AsyncClient, who: Account, doc: dict[str, Any], **params: str
) -> httpx.Response:
    return await client.post(
        IMPORT,
        content=json.dumps(doc),
        params=params,
        headers=who.headers | {"Content-Type": "application/json"},
    )


async def ledger(client: httpx.AsyncClient, who: Account, pid: str) -> list[dict[str, Any]]:
    answer = await client.get(f"{V1}/{pid}/transactions", headers=who.headers)
    rows: list[dict[str, Any]] = answer.json()["transactions"]
    return rows


def rows_of(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The ledger without ids, amounts as numbers (the database may pad decimals)."""

    def num(v: str | None) -> Decimal | None:
        return None if v is None else Decimal(v)

    return sorted(
        (
            r["date"],
            r["type"],
            r["symbol"],
            num(r["quantity"]),
            num(r["price"]),
            num(r["fee"]),
            num(r["amount"]),
            r["currency"],
        )
        for r in rows
    )


async def performance(client: httpx.AsyncClient, who: Account, pid: str) -> dict[str, Any]:
    answer = await client.get(f"{V1}/{pid}/performance", headers=who.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def file_totals(doc: dict[str, Any], account: str) -> dict[str, Decimal]:
    """What the file itself says an account's activities add up to."""
    out: dict[str, Decimal] = {}
    for a in doc["activities"]:
        if a["accountId"] != account:
            continue
        value = Decimal(str(a["quantity"])) * Decimal(str(a["unitPrice"]))
        key = a["type"]
        out[key] = out.get(key, Decimal(0)) + (
            value + Decimal(str(a["fee"])) if key == "FEE" else value
        )
        out["fees"] = out.get("fees", Decimal(0)) + Decimal(str(a["fee"]))
    return out


async def test_a_ghostfolio_export_becomes_a_portfolio_per_account(
    client: httpx.AsyncClient, alice: Account
) -> None:
    doc = sample()
    response = await send(client, alice, doc)
    assert response.status_code == 201, response.text
    body = response.json()
    by_account = {p["accountId"]: p for p in body["portfolios"]}
    assert [p["name"] for p in body["portfolios"]] == [
        "Interactive Brokers",
        "Private Holdings",
        "Ghostfolio (no account)",
    ]
    assert by_account[IBKR]["transactions"] == {
        "fee": 2,
        "buy": 2,
        "dividend": 2,
        "sell": 1,
        "interest": 1,
        "deposit": 2,
    }
    assert by_account[PRIVATE]["transactions"] == {
        "buy": 1,
        "interest": 1,
        "sell": 1,
        "withdrawal": 1,
    }
    assert by_account[None]["transactions"] == {"buy": 1}
    assert {(a["ghostfolioSymbol"], a["symbol"], a["prices"]) for a in body["customAssets"]} == {
        ("a5d8e1f2-7c3b-4e9a-b6d0-1f2e3c4d5a6b", "GF:ACME-SEED-ROUND", 3),
        ("c3e9f0a1-2b4d-4c6e-8a0f-9d1b2c3e4f5a", "GF:ROLEX-SUBMARINER", 1),
    }
    skipped = {n["where"]: n["reason"] for n in body["notImported"]}
    assert "LIABILITY" in skipped["activities[6]"]
    assert {"tags", "platforms", "activities[].comment"} <= set(skipped)

    ibkr = by_account[IBKR]["portfolioId"]
    rows = await ledger(client, alice, ibkr)
    totals = file_totals(doc, IBKR)
    amounts = {
        kind: sum(
            (Decimal(r["amount"]) for r in rows if r["type"] == kind and r["symbol"] is None),
            Decimal(0),
        )
        for kind in ("fee", "interest")
    }
    assert amounts == {"fee": totals["FEE"], "interest": totals["INTEREST"]}
    dividends = sum((Decimal(r["amount"]) for r in rows if r["type"] == "dividend"), Decimal(0))
    assert dividends == totals["DIVIDEND"] == Decimal("4.84")
    # The dividend's fee leaves the cash as a fee on its position.
    assert [(r["symbol"], Decimal(r["amount"])) for r in rows if r["type"] == "fee"] == [
        (None, Decimal(49)),
        ("AAPL", Decimal("0.1")),
    ]
    # Cash follows the balances: 798.68 after the activities, 1000 on 2023-12-31, 2500 later.
    deposits = [(r["date"], Decimal(r["amount"])) for r in rows if r["type"] == "deposit"]
    assert deposits == [("2023-12-31", Decimal("201.32")), ("2024-06-30", Decimal(1500))]
    reported = [
        (f["where"], f["date"], f["type"], Decimal(f["amount"]))
        for f in by_account[IBKR]["balanceFlows"]
    ]
    assert reported == [
        ("accounts[0].balances[1]", "2023-12-31", "deposit", Decimal("201.32")),
        ("accounts[0].balances[0]", "2024-06-30", "deposit", Decimal(1500)),
    ]
    assert [(f["type"], f["amount"]) for f in by_account[PRIVATE]["balanceFlows"]] == [
        ("withdrawal", "50.00")
    ]

    perf = await performance(client, alice, ibkr)
    held = {h["symbol"]: h for h in perf["holdings"]}
    assert {s: Decimal(h["quantity"]) for s, h in held.items()} == {
        "MSFT": Decimal(5),
        "AAPL": Decimal(6),
    }
    # Average cost with the buy fee: 5 x 239.58 + 1; 6/10 of (10 x 145.43 + 1).
    assert Decimal(held["MSFT"]["costBasis"]) == Decimal("1198.90")
    assert Decimal(held["AAPL"]["costBasis"]) == Decimal("873.18")
    assert Decimal(perf["totals"]["cash"]) == Decimal(2500)

    private = await performance(client, alice, by_account[PRIVATE]["portfolioId"])
    assert [(h["symbol"], Decimal(h["quantity"])) for h in private["holdings"]] == [
        ("GF:ACME-SEED-ROUND", Decimal(80))
    ]
    assert Decimal(private["totals"]["cash"]) == Decimal(250)
    prices = await client.get("/api/v1/assets/GF:ACME-SEED-ROUND/prices", headers=alice.headers)
    assert [(p["date"], Decimal(p["price"])) for p in prices.json()["prices"]] == [
        ("2023-05-01", Decimal(10)),
        ("2023-12-31", Decimal("12.5")),
        ("2024-06-30", Decimal(15)),
    ]
    asset = await client.get("/api/v1/assets/GF:ACME-SEED-ROUND", headers=alice.headers)
    assert asset.json()["assetClass"] == "private_equity"
    item = await ledger(client, alice, by_account[None]["portfolioId"])
    assert rows_of(item) == [
        (
            "2022-11-15",
            "buy",
            "GF:ROLEX-SUBMARINER",
            Decimal(1),
            Decimal(9500),
            Decimal(0),
            None,
            "USD",
        )
    ]


async def test_one_portfolio_takes_every_activity_and_ends_at_the_balances_sum(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await send(client, alice, sample(), portfolios="one", name="Everything")
    assert response.status_code == 201, response.text
    (only,) = response.json()["portfolios"]
    assert (only["name"], only["baseCurrency"], only["accountId"]) == ("Everything", "USD", None)
    assert only["transactions"]["buy"] == 4
    perf = await performance(client, alice, only["portfolioId"])
    assert Decimal(perf["totals"]["cash"]) == Decimal(2750)  # 2500 + 250
    assert {h["symbol"] for h in perf["holdings"]} == {
        "MSFT",
        "AAPL",
        "GF:ACME-SEED-ROUND",
        "GF:ROLEX-SUBMARINER",
    }


async def test_bad_activities_are_named_and_nothing_is_created(
    client: httpx.AsyncClient, alice: Account
) -> None:
    doc = sample()
    bad = copy.deepcopy(doc)
    bad["activities"][2]["symbol"] = "NOSUCHCO"
    bad["activities"][3]["quantity"] = -1
    bad["activities"][4]["type"] = "SPLIT"
    bad["activities"][7]["date"] = "2023-13-45T00:00:00.000Z"
    bad["activities"][9]["accountId"] = "not-an-account"
    bad["user"]["settings"]["currency"] = "usd"  # the activities without an account's
    body = assert_problem(await send(client, alice, bad), 422)
    assert error_fields(body) == {
        "activities[2].symbol",
        "activities[3].quantity",
        "activities[4].type",
        "activities[7].date",
        "activities[9].accountId",
        "user.settings.currency",
    }
    assert "NOSUCHCO" in body["detail"]
    unreadable = copy.deepcopy(doc)
    unreadable["activities"][1]["fee"] = "forty-nine"
    del unreadable["activities"][5]["unitPrice"]
    body = assert_problem(await send(client, alice, unreadable), 422)
    assert error_fields(body) == {"activities[1].fee", "activities[5].unitPrice"}
    huge = json.dumps(doc).replace('"quantity": 5,', '"quantity": 1e999999999,', 1)
    huge = huge.replace('"unitPrice": 145.43', '"unitPrice": NaN', 1)
    huge = huge.replace('"value": 2500', '"value": 1e40', 1)
    huge = huge.replace(
        '"quantity": 5, "type": "DIVIDEND", "unitPrice": 0.68',
        '"quantity": 1e12, "type": "DIVIDEND", "unitPrice": 1e12',
        1,
    )
    huge = huge.replace('"2023-01-03T00:00:00.000Z"', '"0001-01-01T00:00:00+05:00"', 1)
    # more digits than the decimal context keeps, at the largest exponent it has
    huge = huge.replace('"fee": 0.1,', f'"fee": {"9" * 30}E999970,', 1)
    response = await client.post(IMPORT, content=huge, headers=alice.headers)
    assert error_fields(assert_problem(response, 422)) == {
        "activities[1].date",
        "activities[2].quantity",
        "activities[3].unitPrice",
        "activities[4].unitPrice",
        "activities[8].fee",
        "accounts[0].balances[0].value",
    }
    # A ledger rule (selling more than held) refuses it all too, after portfolios were made.
    oversold = copy.deepcopy(doc)
    oversold["activities"][7]["quantity"] = 11
    body = assert_problem(await send(client, alice, oversold), 422)
    assert error_fields(body) == {"activities[7].quantity"}
    for garbage in (b"not json", b"[]", b'{"activities": [{"type": "BUY"}]}'):
        response = await client.post(IMPORT, content=garbage, headers=alice.headers)
        assert_problem(response, 422)
    listed = await client.get(f"{V1}/", headers=alice.headers)
    assert listed.json()["portfolios"] == []
    mine = await client.get("/api/v1/assets", headers=alice.headers)
    assert mine.json()["assets"] == []


async def test_the_ghostfolio_export_imports_back_to_the_same_ledger(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    response = await send(client, alice, sample())
    by_account = {p["accountId"]: p["portfolioId"] for p in response.json()["portfolios"]}
    for account in (IBKR, PRIVATE):
        source = by_account[account]
        # A tax (Ghostfolio has none) travels as a FEE commented flint:tax.
        tax = {"date": "2024-02-01", "type": "tax", "amount": "7.25"}
        added = await client.post(f"{V1}/{source}/transactions", json=tax, headers=alice.headers)
        assert added.status_code == 201, added.text
        exported = await client.get(
            f"{V1}/{source}/export", params={"format": "ghostfolio"}, headers=alice.headers
        )
        assert exported.status_code == 200, exported.text
        assert "attachment" in exported.headers["content-disposition"]
        doc = exported.json()
        assert {"meta", "accounts", "activities", "assetProfiles"} <= set(doc)
        assert doc["accounts"][0]["id"] == source
        assert {a["type"] for a in doc["activities"]} <= {
            "BUY",
            "SELL",
            "DIVIDEND",
            "FEE",
            "INTEREST",
        }
        back = await client.post(
            IMPORT,
            content=exported.content,
            headers=alice.headers | {"Content-Type": "application/json"},
        )
        assert back.status_code == 201, back.text
        (copy_,) = back.json()["portfolios"]
        assert all(not a["created"] for a in back.json()["customAssets"])
        assert rows_of(await ledger(client, alice, copy_["portfolioId"])) == rows_of(
            await ledger(client, alice, source)
        )
    private = next(a for a in doc["assetProfiles"] if a["symbol"] == "GF_GF_ACME-SEED-ROUND")
    assert private["dataSource"] == "MANUAL"
    assert [m["marketPrice"] for m in private["marketData"]] == [10, 12.5, 15]
    other = await client.get(
        f"{V1}/{by_account[IBKR]}/export", params={"format": "ghostfolio"}, headers=bob.headers
    )
    assert_problem(other, 404)


async def test_a_split_is_exported_as_adjusted_trades(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(f"{V1}/", json={"name": "Split"}, headers=alice.headers)
    pid = created.json()["portfolioId"]
    for row in (
        {"date": "2024-01-03", "type": "buy", "symbol": "AAPL", "quantity": "10", "price": "180"},
        {"date": "2024-06-10", "type": "split", "symbol": "AAPL", "quantity": "4"},
        {"date": "2024-07-01", "type": "sell", "symbol": "AAPL", "quantity": "8", "price": "50"},
    ):
        added = await client.post(f"{V1}/{pid}/transactions", json=row, headers=alice.headers)
        assert added.status_code == 201, added.text
    exported = await client.get(
        f"{V1}/{pid}/export", params={"format": "ghostfolio"}, headers=alice.headers
    )
    trades = [(a["type"], a["quantity"], a["unitPrice"]) for a in exported.json()["activities"]]
    assert trades == [("BUY", 40, 45), ("SELL", 8, 50)]


async def test_an_older_file_with_one_balance_and_files_up_to_5_mib(
    client: httpx.AsyncClient, alice: Account
) -> None:
    doc = sample()
    doc["accounts"] = [
        {k: v for k, v in doc["accounts"][1].items() if k != "balances"} | {"balance": 320.5}
    ]
    doc["activities"] = [a for a in doc["activities"] if a["accountId"] == PRIVATE]
    padded = json.dumps(doc) + " " * (2 * 1024 * 1024)  # over the 1 MiB other routes take
    response = await client.post(
        IMPORT, content=padded, headers=alice.headers | {"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    (only,) = response.json()["portfolios"]
    rows = await ledger(client, alice, only["portfolioId"])
    # Cash is 300 after the activities; the balance of the export's day (meta.date) is 320.50.
    assert [(r["date"], r["type"], Decimal(r["amount"])) for r in rows[-1:]] == [
        ("2024-07-01", "deposit", Decimal("20.5"))
    ]
    perf = await performance(client, alice, only["portfolioId"])
    assert Decimal(perf["totals"]["cash"]) == Decimal("320.50")
    big = json.dumps(doc) + " " * (5 * 1024 * 1024)
    response = await client.post(
        IMPORT, content=big, headers=alice.headers | {"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


async def test_an_account_in_euros_holds_dollar_shares_and_ends_at_its_euro_balance(
    client: httpx.AsyncClient, alice: Account
) -> None:
    doc = sample()
    account = doc["accounts"][0] | {"currency": "EUR", "balances": []}
    account["balances"] = [{"date": "2024-06-28T00:00:00.000Z", "value": 500}]
    doc["accounts"] = [account]
    doc["activities"] = [doc["activities"][i] for i in (2, 3, 7)]  # MSFT, AAPL in US dollars
    doc["tags"], doc["platforms"] = [], []
    response = await send(client, alice, doc)
    assert response.status_code == 201, response.text
    (only,) = response.json()["portfolios"]
    assert only["baseCurrency"] == "EUR"
    assert only["transactions"] == {"buy": 2, "sell": 1, "withdrawal": 1}
    # The sale's 781.44 dollars, in euros at their day's rate, are more than 500 euros.
    (flow,) = only["balanceFlows"]
    assert (flow["date"], flow["type"]) == ("2024-06-28", "withdrawal")
    assert 100 < Decimal(flow["amount"]) < 300
    rows = await ledger(client, alice, only["portfolioId"])
    assert [r["currency"] for r in rows] == ["USD", "USD", "USD", "EUR"]
    perf = await performance(client, alice, only["portfolioId"])
    assert Decimal(perf["totals"]["cash"]) == Decimal(500)
    # An account in a currency Flint cannot value is named.
    doc["accounts"][0]["currency"] = "XYZ"
    body = assert_problem(await send(client, alice, doc), 422)
    assert "accounts[0].currency" in error_fields(body)


async def test_a_portfolio_in_euros_with_dollar_trades_exports_its_euro_cash(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(
        f"{V1}/", json={"name": "Euro", "baseCurrency": "EUR"}, headers=alice.headers
    )
    pid = created.json()["portfolioId"]
    for row in (
        {"date": "2024-01-02", "type": "deposit", "amount": "5000"},
        {"date": "2024-01-03", "type": "buy", "symbol": "AAPL", "quantity": "10", "price": "180"},
    ):
        added = await client.post(f"{V1}/{pid}/transactions", json=row, headers=alice.headers)
        assert added.status_code == 201, added.text
    exported = await client.get(
        f"{V1}/{pid}/export", params={"format": "ghostfolio"}, headers=alice.headers
    )
    assert exported.status_code == 200, exported.text
    (account,) = exported.json()["accounts"]
    assert (account["currency"], account["balances"]) == (
        "EUR",
        [{"date": "2024-01-02T00:00:00.000Z", "value": 5000}],
    )
    (buy,) = exported.json()["activities"]
    assert (buy["currency"], buy["dataSource"], buy["symbol"]) == ("USD", "YAHOO", "AAPL")


async def test_the_portfolios_own_export_imported_into_it_adds_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Ghostfolio's rows are fingerprinted like a file's: the portfolio's CSV export (the same
    rows, written by Flint) imported into it is every row known (it doubled the ledger)."""
    response = await send(client, alice, sample())
    assert response.status_code == 201, response.text
    for made in response.json()["portfolios"]:
        pid = made["portfolioId"]
        before = await ledger(client, alice, pid)
        exported = await client.get(f"{V1}/{pid}/export", headers=alice.headers)
        assert exported.status_code == 200, exported.text
        again = await client.post(
            f"{V1}/{pid}/import",
            content=exported.content,
            headers=alice.headers | {"Content-Type": "text/csv"},
        )
        assert again.status_code == 200, again.text
        assert again.json()["skipped"] == len(before)
        assert again.json()["imported"] == {}
        assert await ledger(client, alice, pid) == before


async def test_importing_again_or_a_newer_export_adds_only_what_is_new(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    """A Ghostfolio account imported once is imported into the same portfolio again (it made a
    second set of portfolios and ledgers every time)."""
    first = await send(client, alice, sample())
    assert first.status_code == 201, first.text
    made = {p["accountId"]: p for p in first.json()["portfolios"]}
    assert all(p["created"] and p["skipped"] == 0 for p in made.values())
    ledgers = {a: await ledger(client, alice, p["portfolioId"]) for a, p in made.items()}

    again = await send(client, alice, sample())
    assert again.status_code == 200, again.text
    body = again.json()
    assert {p["accountId"]: p["portfolioId"] for p in body["portfolios"]} == {
        a: p["portfolioId"] for a, p in made.items()
    }
    for p in body["portfolios"]:
        assert (p["created"], p["transactions"], p["balanceFlows"]) == (False, {}, [])
        assert p["skipped"] == len(ledgers[p["accountId"]])
    assert all(not a["created"] and a["prices"] == 0 for a in body["customAssets"])
    listed = await client.get(f"{V1}/", headers=alice.headers)
    assert len(listed.json()["portfolios"]) == 3
    for account, rows in ledgers.items():
        assert await ledger(client, alice, made[account]["portfolioId"]) == rows

    # A newer export: one more trade and a later balance of the IBKR account.
    newer = sample()
    newer["activities"].append(
        newer["activities"][2] | {"date": "2024-07-15T00:00:00.000Z", "quantity": 2, "fee": 1}
    )
    newer["accounts"][0]["balances"].insert(0, {"date": "2024-07-31T00:00:00.000Z", "value": 2100})
    response = await send(client, alice, newer)
    assert response.status_code == 201, response.text
    ibkr = next(p for p in response.json()["portfolios"] if p["accountId"] == IBKR)
    assert (ibkr["portfolioId"], ibkr["created"]) == (made[IBKR]["portfolioId"], False)
    assert ibkr["transactions"] == {"buy": 1, "deposit": 1}
    assert ibkr["skipped"] == len(ledgers[IBKR])
    (flow,) = ibkr["balanceFlows"]
    # 2,500 on 2024-06-30, less 2 x 239.58 + 1 for the buy: 2,019.84; 2,100 wanted.
    assert (flow["date"], flow["type"], Decimal(flow["amount"])) == (
        "2024-07-31",
        "deposit",
        Decimal("80.16"),
    )
    perf = await performance(client, alice, made[IBKR]["portfolioId"])
    assert Decimal(perf["totals"]["cash"]) == Decimal(2100)
    assert len(await ledger(client, alice, made[IBKR]["portfolioId"])) == len(ledgers[IBKR]) + 2

    # With portfolios=one, the name is what the portfolio is known by.
    one = await send(client, alice, sample(), portfolios="one", name="Everything")
    assert one.status_code == 201, one.text
    (everything,) = one.json()["portfolios"]
    twice = await send(client, alice, sample(), portfolios="one", name="Everything")
    assert twice.status_code == 200, twice.text
    assert twice.json()["portfolios"][0]["portfolioId"] == everything["portfolioId"]
    other = await send(client, alice, sample(), portfolios="one", name="Another")
    assert other.status_code == 201, other.text
    assert other.json()["portfolios"][0]["portfolioId"] != everything["portfolioId"]

    # Another user's import of the same file makes portfolios of their own.
    theirs = await send(client, bob, sample())
    assert theirs.status_code == 201, theirs.text
    assert all(p["created"] for p in theirs.json()["portfolios"])
    assert not {p["portfolioId"] for p in theirs.json()["portfolios"]} & {
        p["portfolioId"] for p in made.values()
    }


async def test_the_same_file_imported_twice_at_once_makes_one_set(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """They queue on the user: the first makes the portfolios, the others find them (the
    second's custom assets broke their unique key on PostgreSQL: 500)."""
    answers = await asyncio.gather(*(send(client, alice, sample()) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 200, 201], [a.text for a in answers]
    listed = await client.get(f"{V1}/", headers=alice.headers)
    assert len(listed.json()["portfolios"]) == 3
    mine = await client.get("/api/v1/assets", headers=alice.headers)
    assert len(mine.json()["assets"]) == 2


async def test_an_account_below_zero_allows_negative_cash_and_ends_at_its_balance(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """(On PostgreSQL the flag was lost before the ledger was written, and the withdrawal to
    the negative balance refused: 422.)"""
    doc = sample()
    doc["accounts"] = [doc["accounts"][1]]
    doc["accounts"][0]["balances"] = [{"date": "2024-03-31T00:00:00.000Z", "value": -75.5}]
    doc["activities"] = [a for a in doc["activities"] if a["accountId"] == PRIVATE]
    response = await send(client, alice, doc)
    assert response.status_code == 201, response.text
    (only,) = response.json()["portfolios"]
    assert only["allowNegativeCash"] is True
    settings = await client.get(f"{V1}/{only['portfolioId']}", headers=alice.headers)
    assert settings.json()["allowNegativeCash"] is True
    perf = await performance(client, alice, only["portfolioId"])
    assert Decimal(perf["totals"]["cash"]) == Decimal("-75.5")


def converted(account: str) -> dict[str, Any]:
    """A file as Export-To-Ghostfolio writes it from a broker's CSV: ``meta`` and
    ``activities`` only, each naming the Ghostfolio account it is for (the converter's
    GHOSTFOLIO_ACCOUNT_ID), which the file does not list; dates with their offset."""
    return {
        "meta": {"date": "2024-08-01T10:00:00.000Z", "version": "v0"},
        "activities": [
            {
                "accountId": account,
                "comment": "",
                "fee": 0,
                "quantity": quantity,
                "type": kind,
                "unitPrice": price,
                "currency": "USD",
                "dataSource": "YAHOO",
                "date": day,
                "symbol": symbol,
            }
            for day, kind, symbol, quantity, price in [
                ("2024-07-01T09:31:07+02:00", "BUY", "MSFT", 3, 456.73),
                ("2024-07-02T15:02:44+02:00", "BUY", "AAPL", 2, 216.75),
                ("2024-07-09T00:00:00+02:00", "SELL", "MSFT", 1, 459.54),
            ]
        ],
    }


async def test_a_converters_file_goes_into_one_portfolio_or_the_one_made_of_its_account(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The community converter's files name the user's Ghostfolio account without listing it
    (every activity was refused, whatever the parameters)."""
    unlisted = converted("0b6e5d8c-1a2f-4e3d-9c8b-7a6f5e4d3c2b")
    body = assert_problem(await send(client, alice, unlisted), 422)
    assert error_fields(body) == {f"activities[{k}].accountId" for k in range(3)}
    assert "?portfolios=one" in body["errors"][0]["message"]
    listed = await client.get(f"{V1}/", headers=alice.headers)
    assert listed.json()["portfolios"] == []

    one = await send(
        client, alice, unlisted, portfolios="one", name="Trading 212", baseCurrency="USD"
    )
    assert one.status_code == 201, one.text
    (made,) = one.json()["portfolios"]
    assert (made["name"], made["created"]) == ("Trading 212", True)
    assert made["transactions"] == {"buy": 2, "sell": 1}
    rows = rows_of(await ledger(client, alice, made["portfolioId"]))
    # Each day as Ghostfolio's server reads it: the UTC day of the moment.
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("2024-07-01", "buy", "MSFT", Decimal(3)),
        ("2024-07-02", "buy", "AAPL", Decimal(2)),
        ("2024-07-08", "sell", "MSFT", Decimal(1)),
    ]

    # The account an earlier import made a portfolio of: the converter's activities go there.
    first = await send(client, alice, sample())
    ibkr = next(p for p in first.json()["portfolios"] if p["accountId"] == IBKR)
    before = await ledger(client, alice, ibkr["portfolioId"])
    response = await send(client, alice, converted(IBKR))
    assert response.status_code == 201, response.text
    (into,) = response.json()["portfolios"]
    assert (into["portfolioId"], into["created"], into["accountId"]) == (
        ibkr["portfolioId"],
        False,
        IBKR,
    )
    assert into["transactions"] == {"buy": 2, "sell": 1}
    assert len(await ledger(client, alice, ibkr["portfolioId"])) == len(before) + 3
    again = await send(client, alice, converted(IBKR))
    assert again.status_code == 200, again.text
    assert again.json()["portfolios"][0]["skipped"] == 3
    listed = await client.get(f"{V1}/", headers=alice.headers)
    assert len(listed.json()["portfolios"]) == 4  # Trading 212 and the sample's three
