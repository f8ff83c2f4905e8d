"""GET /portfolio/{id}/performance: the figures users look for first (periods, totals, each
position's own figures, closed positions, grouped allocation, drawdown), the `tax` type, and
a window that applies to every figure. Money is checked against the ledger worked out by
hand in Decimal."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from typing import Any

import httpx

from flint.kit.time import utcnow
from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/portfolio"
CSV = {"Content-Type": "text/csv"}


def ledger_csv(d0: date, *, tax: bool = True) -> str:
    def on(days: int) -> str:
        return (d0 + timedelta(days=days)).isoformat()

    return "\n".join(
        [
            "date,symbol,type,quantity,price,fee,amount",
            f"{on(0)},,deposit,,,,20000",
            f"{on(0)},AAPL,buy,10,150,1,",
            f"{on(10)},MSFT,buy,5,300,2,",
            f"{on(20)},AAPL,dividend,,,,2.40",
            *([f"{on(20)},AAPL,tax,,,,0.36"] if tax else []),
            f"{on(30)},,interest,,,,1.10",
            f"{on(31)},,fee,,,,5",
            f"{on(40)},MSFT,sell,5,320,2,",
            f"{on(60)},AAPL,sell,4,200,1,",
            f"{on(70)},,withdrawal,,,,1000",
            "",
        ]
    )


async def imported(
    client: httpx.AsyncClient, who: Account, *, tax: bool = True
) -> tuple[str, date, date]:
    end = utcnow().date() - timedelta(days=3)
    d0 = end - timedelta(days=120)
    created = await client.post(f"{V1}/", json={"name": "Figures"}, headers=who.headers)
    portfolio_id: str = created.json()["portfolioId"]
    response = await client.post(
        f"{V1}/{portfolio_id}/import", content=ledger_csv(d0, tax=tax), headers=who.headers | CSV
    )
    assert response.status_code == 201, response.text
    return portfolio_id, d0, end


async def performance(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, **params: str
) -> dict[str, Any]:
    response = await client.get(
        f"{V1}/{portfolio_id}/performance", params=params, headers=who.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# By hand: cash 20000 - 1501 - 1502 + 2.40 - 0.36 + 1.10 - 5 + 1598 + 799 - 1000.
CASH = D(20000) - D(1501) - D(1502) + D("2.40") - D("0.36") + D("1.10") - 5 + 1598 + 799 - 1000


async def test_totals_positions_and_closed_ones_come_from_the_ledger(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, d0, end = await imported(client, alice)
    perf = await performance(client, alice, portfolio_id, end=end.isoformat())
    assert perf["totals"] == {
        "fees": "11.00",  # 1 + 2 + 5 + 2 + 1
        "interest": "1.10",
        "taxes": "0.36",
        "dividends": "2.40",
        "realizedPnl": "294.60",  # MSFT 1598 - 1502; AAPL 799 - 4/10 of 1501
        "deposits": "20000.00",
        "withdrawals": "1000.00",
        "netContributions": "19000.00",
        "cash": f"{CASH:.2f}",
        "costBasis": "900.60",
        "costBasisWithoutFees": "900.00",
        "netGain": perf["periods"]["MAX"]["absoluteGain"],
        "grossGain": f"{D(perf['periods']['MAX']['absoluteGain']) + 11:.2f}",
    }
    (aapl,) = perf["holdings"]
    assert {k: aapl[k] for k in ("symbol", "name", "currency", "firstBuyDate")} == {
        "symbol": "AAPL",
        "name": "Apple Inc.",
        "currency": "USD",
        "firstBuyDate": d0.isoformat(),
    }
    assert (aapl["costBasis"], aapl["costBasisWithoutFees"]) == ("900.60", "900.00")
    assert (aapl["realizedPnl"], aapl["dividends"], aapl["fees"], aapl["taxes"]) == (
        "198.60",
        "2.40",
        "2.00",
        "0.36",
    )
    assert isinstance(aapl["twr"], float)
    assert isinstance(aapl["mwr"], float)
    assert aapl["irr"] is None  # held for less than a year
    (msft,) = perf["closedPositions"]
    assert msft["symbol"] == "MSFT"
    assert (msft["realizedPnl"], msft["fees"], msft["result"]) == ("96.00", "4.00", "96.00")
    assert msft["closedOn"] == (d0 + timedelta(days=40)).isoformat()
    # The MSFT position bought at 300 with 2 fee and sold at 320 less 2, whatever the closes.
    assert msft["twr"] > 0


async def test_every_period_agrees_with_the_series(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, d0, end = await imported(client, alice)
    perf = await performance(client, alice, portfolio_id, end=end.isoformat())
    table = perf["periods"]
    assert list(table) == ["1D", "WTD", "MTD", "YTD", "1Y", "3Y", "5Y", "MAX"]
    series = perf["series"]
    whole = table["MAX"]
    assert whole["start"] == d0.isoformat()
    assert whole["startValue"] == "0.00"
    assert whole["netFlows"] == "19000.00"
    assert abs(whole["twr"] - perf["twr"]) < 1e-12
    assert whole["endValue"] == perf["marketValue"]  # both exact, to the cent
    assert D(whole["absoluteGain"]) == D(whole["endValue"]) - D(19000)
    for key in ("1Y", "3Y", "5Y"):  # the ledger is younger: the whole of it
        assert table[key] == whole
    assert whole["annualizedTwr"] is None  # 120 days are not a year
    one_day = table["1D"]
    assert one_day["start"] == series[-2]["date"]
    assert abs(one_day["twr"] - series[-1]["dailyReturn"]) < 1e-12
    assert abs(float(one_day["startValue"]) - float(series[-2]["value"])) < 0.005
    assert perf["drawdown"]["max"] == perf["maxDrawdown"]
    assert perf["drawdown"]["current"] <= 0


async def test_a_window_applies_to_realised_pnl_dividends_and_every_total(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, d0, end = await imported(client, alice, tax=False)
    since = d0 + timedelta(days=50)
    perf = await performance(
        client, alice, portfolio_id, start=since.isoformat(), end=end.isoformat()
    )
    # Only the AAPL sale (and its fee) and the withdrawal fall in the window.
    assert perf["realizedPnl"] == "198.60"
    assert perf["dividends"] == "0.00"
    totals = perf["totals"]
    assert (totals["realizedPnl"], totals["dividends"], totals["fees"]) == (
        "198.60",
        "0.00",
        "1.00",
    )
    assert (totals["taxes"], totals["interest"], totals["netContributions"]) == (
        "0.00",
        "0.00",
        "-1000.00",
    )
    assert perf["closedPositions"] == []  # MSFT was closed before the window
    assert perf["holdings"][0]["dividends"] == "0.00"
    whole = perf["periods"]["MAX"]
    assert whole["start"] == perf["series"][0]["date"]
    assert abs(float(whole["startValue"]) - float(perf["series"][0]["value"])) < 0.005


async def test_allocation_groups_by_what_is_asked(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, _, end = await imported(client, alice)
    by_sector = await performance(
        client, alice, portfolio_id, end=end.isoformat(), groupBy="sector"
    )
    assert by_sector["groupBy"] == "sector"
    groups = {g["key"]: g for g in by_sector["allocationGroups"]}
    assert set(groups) == {"Information Technology", "Cash"}
    assert groups["Cash"]["value"] == f"{CASH:.2f}"
    assert groups["Information Technology"]["symbols"] == ["AAPL"]
    assert abs(sum(g["weight"] for g in groups.values()) - 1) < 1e-12
    by_currency = await performance(
        client, alice, portfolio_id, end=end.isoformat(), groupBy="currency"
    )
    (usd,) = by_currency["allocationGroups"]
    assert usd["key"] == "USD"
    assert usd["symbols"] == ["AAPL", "USD"]
    bad = await client.get(
        f"{V1}/{portfolio_id}/performance", params={"groupBy": "planet"}, headers=alice.headers
    )
    assert "query.groupBy" in error_fields(assert_problem(bad, 422))


async def test_a_tax_is_a_transaction_of_its_own(client: httpx.AsyncClient, alice: Account) -> None:
    portfolio_id, d0, _ = await imported(client, alice)
    url = f"{V1}/{portfolio_id}/transactions"
    missing = await client.post(
        url, json={"date": d0.isoformat(), "type": "tax"}, headers=alice.headers
    )
    assert "body" in " ".join(error_fields(assert_problem(missing, 422)))
    added = await client.post(
        url,
        json={"date": d0.isoformat(), "type": "tax", "amount": "12.5"},
        headers=alice.headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["type"] == "tax"
    exported = await client.get(f"{V1}/{portfolio_id}/export", headers=alice.headers)
    rows = [line.split(",") for line in exported.text.splitlines()]
    assert [r[2] for r in rows].count("tax") == 2
    assert [d0.isoformat(), "", "tax", "", "", "", "12.5", "USD"] in rows
