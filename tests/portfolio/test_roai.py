"""The `roai` block of GET /portfolio/{id}/performance against Ghostfolio's own calculator tests:
each scenario of ``/work/shared/reference/peer-cases/ghostfolio_roai_cases.json`` (copied
beside this file) goes through the API with custom assets carrying the scenario's prices,
weekend prices included, and every figure Ghostfolio asserts that Flint reports must match
to 1e-9."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account

PORTFOLIO = "/api/v1/portfolio"
ASSETS = "/api/v1/assets"
CASES = json.loads((Path(__file__).parent / "ghostfolio_roai_cases.json").read_text())

SNAPSHOT = {
    "currentValueInBaseCurrency": "currentValue",
    "totalFeesWithCurrencyEffect": "fees",
    "totalInvestment": "totalInvestment",
    "totalInvestmentWithCurrencyEffect": "totalInvestment",
}
LAST_POINT = {
    "netPerformance": "netPerformance",
    "netPerformanceWithCurrencyEffect": "netPerformance",
    "netPerformanceInPercentage": "netPerformancePercentage",
    "netPerformanceInPercentageWithCurrencyEffect": "netPerformancePercentage",
    "totalInvestment": "totalInvestment",
    "totalInvestmentValueWithCurrencyEffect": "totalInvestment",
    "value": "currentValue",
    "valueWithCurrencyEffect": "currentValue",
}
POSITION = {
    "activitiesCount": "activitiesCount",
    "averagePrice": "averagePrice",
    "dateOfFirstActivity": "dateOfFirstActivity",
    "dividend": "dividend",
    "dividendInBaseCurrency": "dividend",
    "fee": "fee",
    "feeInBaseCurrency": "fee",
    "grossPerformance": "grossPerformance",
    "grossPerformanceWithCurrencyEffect": "grossPerformance",
    "grossPerformancePercentage": "grossPerformancePercentage",
    "grossPerformancePercentageWithCurrencyEffect": "grossPerformancePercentage",
    "investment": "investment",
    "investmentWithCurrencyEffect": "investment",
    "marketPrice": "marketPrice",
    "marketPriceInBaseCurrency": "marketPrice",
    "netPerformance": "netPerformance",
    "netPerformancePercentage": "netPerformancePercentage",
    "quantity": "quantity",
    "timeWeightedInvestment": "timeWeightedInvestment",
    "timeWeightedInvestmentWithCurrencyEffect": "timeWeightedInvestment",
    "valueInBaseCurrency": "value",
}
RANGES = {
    "1d": "1D",
    "wtd": "WTD",
    "mtd": "MTD",
    "ytd": "YTD",
    "1y": "1Y",
    "5y": "5Y",
    "max": "MAX",
}
NOT_REPORTED = {
    # Ghostfolio's bookkeeping, not figures: the symbol's currency and data source, tags,
    # errors, and the interest and liabilities Flint's ledger has no ROAI counterpart for.
    # Its chart's cash and net worth come from account balances (Flint's cash is in
    # `marketValue`, by its own convention), and the day's investment flow is a chart figure.
    "netWorth",
    "totalCashInBaseCurrency",
    "investmentValueWithCurrencyEffect",
    "currency",
    "dataSource",
    "tags",
    "errors",
    "hasErrors",
    "totalInterestWithCurrencyEffect",
    "totalLiabilitiesWithCurrencyEffect",
}


def symbol_of(name: str) -> str:
    return f"GF:{name}"


async def run_case(client: httpx.AsyncClient, who: Account, case: dict[str, Any]) -> Any:
    """The scenario through the API; answers the `roai` block at the scenario's asOf."""
    created = await client.post(
        f"{PORTFOLIO}/",
        json={"name": case["name"], "baseCurrency": case["currency"]},
        headers=who.headers,
    )
    assert created.status_code == 201, created.text
    portfolio_id = created.json()["portfolioId"]
    for name, prices in case["prices"].items():
        given = dict(prices)
        for activity in case["activities"]:
            # Flint refuses a buy before a custom asset's first price: where the scenario
            # gives none on or before a trade, the trade's own price is given for its day.
            if activity["symbol"] == name and all(day > activity["date"] for day in given):
                given[activity["date"]] = activity["unitPrice"]
        asset = {"symbol": symbol_of(name), "name": name, "currency": case["currency"]}
        made = await client.post(ASSETS, json=asset, headers=who.headers)
        assert made.status_code == 201, made.text
        body = [{"date": day, "price": str(price)} for day, price in sorted(given.items())]
        put = await client.put(f"{ASSETS}/{symbol_of(name)}/prices", json=body, headers=who.headers)
        assert put.status_code == 200, put.text
    for activity in case["activities"]:
        kind = activity["type"].lower()
        row: dict[str, Any] = {
            "date": activity["date"],
            "type": kind,
            "currency": activity["currency"],
        }
        if kind in ("buy", "sell"):
            row.update(
                symbol=symbol_of(activity["symbol"]),
                quantity=str(activity["quantity"]),
                price=str(activity["unitPrice"]),
                fee=str(activity["fee"]),
            )
        elif kind == "dividend":
            amount = Decimal(str(activity["quantity"])) * Decimal(str(activity["unitPrice"]))
            row.update(
                symbol=symbol_of(activity["symbol"]), amount=str(amount), fee=str(activity["fee"])
            )
        else:  # Ghostfolio's FEE activity (on a MANUAL asset): a fee transaction of its amount
            assert kind == "fee"
            row.update(amount=str(activity["fee"]))
        added = await client.post(
            f"{PORTFOLIO}/{portfolio_id}/transactions", json=row, headers=who.headers
        )
        assert added.status_code == 201, added.text
    answer = await client.get(
        f"{PORTFOLIO}/{portfolio_id}/performance",
        params={"end": case["asOf"]},
        headers=who.headers,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["roai"]


def same(flint: Any, ghostfolio: Any, where: str) -> None:
    if isinstance(ghostfolio, str):
        assert flint == ghostfolio, where
        return
    if isinstance(flint, str):  # money: a decimal string
        flint = float(Decimal(flint))
    assert flint == pytest.approx(ghostfolio, rel=1e-9, abs=1e-9), where


def check(
    mapping: dict[str, str], flint: dict[str, Any], expected: dict[str, Any], where: str
) -> int:
    compared = 0
    for key, value in expected.items():
        if key in NOT_REPORTED or key == "positions":
            continue
        assert key in mapping, f"{where}.{key}: asserted by Ghostfolio, not mapped"
        same(flint[mapping[key]], value, f"{where}.{key}")
        compared += 1
    return compared


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
async def test_ghostfolio_roai_scenario_through_the_api(
    client: httpx.AsyncClient, alice: Account, case: dict[str, Any]
) -> None:
    roai = await run_case(client, alice, case)
    expected = case["expected"]
    assert roai["asOf"] == case["asOf"]
    compared = check(SNAPSHOT, roai, expected["snapshot"], "snapshot")
    assert len(roai["positions"]) == len(expected["positions"])
    for position, want in zip(roai["positions"], expected["positions"], strict=True):
        assert position["symbol"] == symbol_of(want["symbol"])
        plain = {
            k: v
            for k, v in want.items()
            if k not in ("symbol", "netPerformanceWithCurrencyEffectMap")
            and k != "netPerformancePercentageWithCurrencyEffectMap"
        }
        compared += check(POSITION, position, plain, want["symbol"])
        for key, value in want["netPerformanceWithCurrencyEffectMap"].items():
            period = position["periods"][RANGES[key]]
            same(period["netPerformance"], value, f"{want['symbol']}.map.{key}")
            compared += 1
        for key, value in want["netPerformancePercentageWithCurrencyEffectMap"].items():
            period = position["periods"][RANGES[key]]
            same(period["netPerformancePercentage"], value, f"{want['symbol']}.pct.{key}")
            compared += 1
    for point in expected["historicalData"]:
        if point.get("index") != -1:
            continue  # chart points before asOf: Flint reports no ROAI chart
        assert point["date"] == case["asOf"]
        fields = {k: v for k, v in point.items() if k not in ("index", "match", "date")}
        compared += check(LAST_POINT, roai, fields, "historicalData[-1]")
    assert compared >= 5
