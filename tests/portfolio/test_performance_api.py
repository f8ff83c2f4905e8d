"""GET /portfolio/{id}/performance on the simulated market: figures that agree with the
stored closes, with each other and with the series they come from."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI

from flint.kit.time import utcnow
from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/portfolio"
HISTORY = "/api/v1/market/historical"


async def closes(
    client: httpx.AsyncClient, who: Account, symbol: str, start: date, end: date
) -> dict[str, float]:
    response = await client.get(
        f"{HISTORY}/{symbol}",
        params={"start": start.isoformat(), "end": end.isoformat()},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    return {bar["timestamp"][:10]: float(bar["close"]) for bar in response.json()["bars"]}


async def make_portfolio(client: httpx.AsyncClient, who: Account) -> tuple[str, date, date]:
    end = utcnow().date() - timedelta(days=3)
    start = end - timedelta(days=120)
    body = {
        "name": "Growth",
        "assets": [
            {
                "symbol": "AAPL",
                "quantity": "10",
                "purchasePrice": "150",
                "purchaseDate": start.isoformat(),
            },
            {
                "symbol": "BTC-USD",
                "quantity": "0.25",
                "purchasePrice": "40000",
                "purchaseDate": (start + timedelta(days=30)).isoformat(),
            },
        ],
    }
    created = await client.post(f"{V1}/", json=body, headers=who.headers)
    assert created.status_code == 201, created.text
    portfolio_id: str = created.json()["portfolioId"]
    deposit = {
        "date": (start + timedelta(days=45)).isoformat(),
        "type": "deposit",
        "amount": "1000",
    }
    added = await client.post(
        f"{V1}/{portfolio_id}/transactions", json=deposit, headers=who.headers
    )
    assert added.status_code == 201, added.text
    return portfolio_id, start, end


async def test_performance_agrees_with_the_closes_and_its_own_series(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, start, end = await make_portfolio(client, alice)
    response = await client.get(
        f"{V1}/{portfolio_id}/performance", params={"end": end.isoformat()}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    perf: dict[str, Any] = response.json()

    aapl = await closes(client, alice, "AAPL", start, end)
    btc = await closes(client, alice, "BTC-USD", start, end)
    # From before the start: a window opening on a day without a session (a weekend) measures
    # the benchmark from the close before it, as it values everything else.
    spy = await closes(client, alice, "SPY", start - timedelta(days=10), end)
    last_aapl, last_btc = Decimal(str(aapl[max(aapl)])), Decimal(str(btc[max(btc)]))
    cent = Decimal("0.01")
    held = (10 * last_aapl).quantize(cent) + (Decimal("0.25") * last_btc).quantize(cent)
    assert perf["marketValue"] == str(held + 1000)  # the deposit sits in cash
    assert perf["costBasis"] == "11500.00"
    assert perf["unrealizedPnl"] == str(held - 11500)
    assert perf["realizedPnl"] == "0.00"
    assert perf["baseCurrency"] == "USD"
    assert perf["benchmark"] == "SPY"

    series = perf["series"]
    assert series[0]["date"] == start.isoformat()
    assert series[-1]["date"] == end.isoformat() or series[-1]["date"] <= end.isoformat()
    assert [p["date"] for p in series] == sorted(p["date"] for p in series)
    flows = {p["date"]: p["netFlow"] for p in series if p["netFlow"] != "0.00"}
    assert flows == {
        start.isoformat(): "1500.00",
        (start + timedelta(days=30)).isoformat(): "10000.00",
        (start + timedelta(days=45)).isoformat(): "1000.00",
    }
    assert series[-1]["value"] == perf["marketValue"]
    returns = np.array([p["dailyReturn"] for p in series if p["dailyReturn"] is not None])
    assert abs(perf["twr"] - (np.prod(1 + returns) - 1)) < 1e-12
    assert abs(perf["volatility"] - returns.std(ddof=1) * np.sqrt(252)) < 1e-12
    assert perf["maxDrawdown"] <= 0
    spy_days = sorted(spy)
    first_spy = (
        spy[max(d for d in spy_days if d <= start.isoformat())]
        if any(d <= start.isoformat() for d in spy_days)
        else spy[spy_days[0]]
    )
    assert abs(perf["benchmarkReturn"] - (spy[spy_days[-1]] / first_spy - 1)) < 1e-9
    assert perf["beta"] is not None
    assert perf["mwr"] is not None

    weights = [a["weight"] for a in perf["allocation"]]
    assert abs(sum(weights) - 1) < 1e-12
    assert {a["assetClass"] for a in perf["allocation"]} == {"equity", "crypto", "cash"}
    assert {h["symbol"] for h in perf["holdings"]} == {"AAPL", "BTC-USD"}


async def test_the_benchmark_is_measured_in_the_portfolios_currency(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """SPY for a portfolio in euros is what its euros would have made in SPY: each close in
    euros at its day's rate, as the portfolio's own US holdings are valued, so the return, beta
    and alpha compare like with like (they compared a return in euros with SPY's in dollars)."""
    end = utcnow().date() - timedelta(days=3)
    start = end - timedelta(days=200)
    lot = {"symbol": "AAPL", "quantity": "10", "purchasePrice": "150"}
    body = {"name": "Euro", "baseCurrency": "EUR", "assets": [lot | {"purchaseDate": str(start)}]}
    created = await client.post(f"{V1}/", json=body, headers=alice.headers)
    assert created.status_code == 201, created.text
    response = await client.get(
        f"{V1}/{created.json()['portfolioId']}/performance",
        params={"end": end.isoformat()},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    perf: dict[str, Any] = response.json()
    spy = await closes(client, alice, "SPY", start - timedelta(days=10), end)
    usd_per_eur = await closes(client, alice, "EURUSD=X", start - timedelta(days=10), end)

    def last(closes: dict[str, float], day: str) -> float:
        return closes[max(d for d in closes if d <= day)]

    series = perf["series"]
    in_euros = [last(spy, p["date"]) / last(usd_per_eur, p["date"]) for p in series]
    for point, expected in zip(series, in_euros, strict=True):
        assert abs(float(point["benchmarkValue"]) / expected - 1) < 1e-9, point["date"]
    assert abs(perf["benchmarkReturn"] - (in_euros[-1] / in_euros[0] - 1)) < 1e-9


async def test_a_window_and_a_new_transaction_change_the_figures(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id, start, end = await make_portfolio(client, alice)
    url = f"{V1}/{portfolio_id}/performance"
    full = (await client.get(url, params={"end": end.isoformat()}, headers=alice.headers)).json()
    again = (await client.get(url, params={"end": end.isoformat()}, headers=alice.headers)).json()
    assert again == full  # served from the cache for this ledger version
    later = (start + timedelta(days=60)).isoformat()
    window = (
        await client.get(
            url, params={"start": later, "end": end.isoformat()}, headers=alice.headers
        )
    ).json()
    assert window["series"][0]["date"] < later <= window["series"][1]["date"]
    assert window["twr"] != full["twr"]
    sale = {
        "date": end.isoformat(),
        "type": "sell",
        "symbol": "AAPL",
        "quantity": "4",
        "price": "200",
    }
    assert (
        await client.post(f"{V1}/{portfolio_id}/transactions", json=sale, headers=alice.headers)
    ).status_code == 201
    after = (await client.get(url, params={"end": end.isoformat()}, headers=alice.headers)).json()
    assert after["realizedPnl"] == "200.00"
    assert [h["quantity"] for h in after["holdings"] if h["symbol"] == "AAPL"] == ["6"]


async def test_bad_queries_and_other_users_are_refused(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    portfolio_id, _, _ = await make_portfolio(client, alice)
    url = f"{V1}/{portfolio_id}/performance"
    assert_problem(await client.get(url, headers=bob.headers), 404)
    unknown = await client.get(url, params={"benchmark": "NOSUCHCO"}, headers=alice.headers)
    assert "query.benchmark" in error_fields(assert_problem(unknown, 422))
    backwards = await client.get(
        url, params={"start": "2024-05-01", "end": "2024-01-01"}, headers=alice.headers
    )
    assert "query.start" in error_fields(assert_problem(backwards, 422))
    empty = await client.post(f"{V1}/", json={"name": "Empty"}, headers=alice.headers)
    nothing = await client.get(
        f"{V1}/{empty.json()['portfolioId']}/performance", headers=alice.headers
    )
    assert nothing.status_code == 200
    assert nothing.json()["marketValue"] == "0.00"
    assert nothing.json()["series"] == []


async def test_a_portfolio_of_one_day_or_only_cash_has_figures_without_risk_metrics(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(f"{V1}/", json={"name": "Cash"}, headers=alice.headers)
    portfolio_id = created.json()["portfolioId"]
    day = utcnow().date() - timedelta(days=10)
    deposit = {"date": day.isoformat(), "type": "deposit", "amount": "2500"}
    added = await client.post(
        f"{V1}/{portfolio_id}/transactions", json=deposit, headers=alice.headers
    )
    assert added.status_code == 201, added.text
    for end in (day, day + timedelta(days=5)):
        response = await client.get(
            f"{V1}/{portfolio_id}/performance",
            params={"end": end.isoformat()},
            headers=alice.headers,
        )
        assert response.status_code == 200, response.text
        perf = response.json()
        assert perf["marketValue"] == "2500.00"
        assert perf["holdings"] == []
        assert perf["allocation"] == [
            {"symbol": "USD", "assetClass": "cash", "weight": 1.0, "value": "2500.00"}
        ]
    chart = await client.get(
        f"{V1}/{portfolio_id}/performance/chart",
        params={"kind": "drawdown", "end": day.isoformat()},
        headers=alice.headers,
    )
    assert chart.status_code == 200, chart.text


async def test_the_money_weighted_return_is_over_the_window_like_the_time_weighted_one(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """``mwr`` is the window's return, as ``twr`` beside it and each period's and holding's
    ``mwr`` are; the XIRR itself (a rate a year) is ``annualizedMwr``, for a window of a year or
    more. With one flow, at the start, the two returns are one. The top's ``mwr`` was the XIRR,
    a rate a year beside a ``twr`` over the whole window, in the answer and in the reports (the
    demo's imported portfolio: 24 % beside 76 % over three years)."""
    end = utcnow().date() - timedelta(days=3)
    start = end - timedelta(days=730)
    lot = {"symbol": "AAPL", "quantity": "10", "purchasePrice": "150", "purchaseDate": str(start)}
    created = await client.post(
        f"{V1}/", json={"name": "One flow", "assets": [lot]}, headers=alice.headers
    )
    assert created.status_code == 201, created.text
    portfolio_id = created.json()["portfolioId"]
    for window in ({}, {"start": str(start + timedelta(days=500))}):
        response = await client.get(
            f"{V1}/{portfolio_id}/performance",
            params={"end": end.isoformat(), **window},
            headers=alice.headers,
        )
        assert response.status_code == 200, response.text
        perf = response.json()
        whole = perf["periods"]["MAX"]
        assert perf["mwr"] == whole["mwr"]
        assert perf["annualizedMwr"] == whole["annualizedMwr"]
        if not window:  # one flow, at the start
            assert abs(perf["mwr"] - perf["twr"]) < 1e-9
            assert perf["annualizedMwr"] is not None
            years = whole["days"] / 365
            assert abs((1 + perf["annualizedMwr"]) ** years - 1 - perf["mwr"]) < 1e-9
        else:  # under a year: no rate a year
            assert perf["annualizedMwr"] is None
            assert perf["mwr"] is not None
