"""``portfolio_performance``: ``GET /api/v1/portfolio/{id}/performance`` on a portfolio of 500
holdings and 2,000 transactions over ten years, and ``/healthz`` while it runs.

One uvicorn process serves Flint as ``make run`` does (SQLite in a scratch data directory, the
simulated provider, the in-process cache, the server-less Celery transport on a SQLite file,
one performance worker process) with one ``flint worker`` (two processes, one a core) beside
it; then the same on PostgreSQL when it is reachable. The portfolio is built
through the API: a seeded CSV of 2,000 rows (500 S&P 500 constituents each bought, then more
buys, partial sales, dividends, deposits and withdrawals, spread over ten years ending today)
imported in one request, benchmark SPY.

Phases, in order:

* import to complete: the clock starts as the CSV is posted; the import sends the history
  backfill (ten years of daily closes for 501 symbols, about 1.27 million bars) to the worker,
  and a client asks for the performance every ``POLL_EVERY`` s until an answer says
  ``dataStatus.complete``, while ``/healthz`` is probed from another process. Entries:
  ``.import_to_complete`` (``COMPLETE_WITHIN`` s over the time from posting the CSV to the
  complete answer, target ≥ 1) and ``.import_blocking`` (``BUDGET_SECONDS`` over the slowest
  performance or ``/healthz`` answer meanwhile, target ≥ 1: no request blocked more than a
  second);
* cold: requests that miss the performance cache with the history stored (each asks for a
  different ``start``, so each is a new cache key and a full computation from the ledger and
  the stored closes, as after a ledger or price change); the median is the headline;
* warm: the same request again, answered from the cache;
* ``/healthz``: probed every 10 ms by a client in its own process while idle, then while a
  client asks for cold performance back to back; the entry is idle p99 over the p99 during
  the load (target ≥ 0.5, that is the p99 at most doubles).

Entries: ``portfolio_performance[.postgresql].cold`` (one second over the cold median, target
≥ 1: "well under a second"), ``.warm`` (cold over warm, informational), ``.healthz``,
``.import_to_complete`` and ``.import_blocking``.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from bench._common import (
    Result,
    Server,
    expect,
    healthz_result,
    percentile,
    probe_healthz,
    say,
    sign_up,
    with_worker_on_each_database,
)
from flint.market.providers.types import InstrumentType
from flint.market.universe import load_universe

HOLDINGS = 500
TRANSACTIONS = 2000
YEARS = 10
BENCHMARK = "SPY"
COLD_RUNS = 7
WARM_RUNS = 30
IDLE_SECONDS = 8.0
LOAD_REQUESTS = 30
BUDGET_SECONDS = 1.0
"""A cold answer within this passes ("well under a second" is the issue's words)."""
FIRST_TIMEOUT = 900.0
COMPLETE_WITHIN = 10.0
"""Import through the API to a complete performance answer within this passes."""
POLL_EVERY = 0.25
WORKER_PROCESSES = 2
SEED = 20261124


def run() -> list[Result]:
    return with_worker_on_each_database("flint-bench-performance-", WORKER_PROCESSES, _measure)


def _measure(server: Server, backend: str) -> list[Result]:
    token = sign_up(server.url)
    auth = {"Authorization": f"Bearer {token}"}
    today = datetime.now(UTC).date()
    rows = ledger_rows(today)
    with httpx.Client(base_url=server.url, headers=auth, timeout=FIRST_TIMEOUT) as client:
        created = client.post(
            "/api/v1/portfolio/", json={"name": "Bench 500", "baseCurrency": "USD", "assets": []}
        )
        expect(created, 201)
        portfolio = created.json()["portfolioId"]
        say(f"importing {len(rows)} transactions, then asking until the answer is complete")
        path = f"/api/v1/portfolio/{portfolio}/performance"
        polls: list[float] = []
        partial: list[dict[str, Any]] = []
        answer: dict[str, Any] = {}
        started = time.perf_counter()

        def import_and_wait() -> None:
            nonlocal answer
            imported = client.post(
                f"/api/v1/portfolio/{portfolio}/import",
                content=to_csv(rows),
                headers={"Content-Type": "text/csv"},
            )
            polls.append(time.perf_counter() - started)
            expect(imported, 201)
            while time.perf_counter() - started < FIRST_TIMEOUT:
                took, body = _timed(client, path, {"benchmark": BENCHMARK})
                polls.append(took)
                answer = json.loads(body)
                if answer["dataStatus"]["complete"]:
                    return
                partial.append(answer["dataStatus"])
                time.sleep(POLL_EVERY)
            raise RuntimeError(f"no complete answer within {FIRST_TIMEOUT:g} s")

        waiting = probe_healthz(server.url, import_and_wait)
        to_complete = time.perf_counter() - started
        import_seconds = polls[0]
        first = answer
        _check(first, rows)
        first_day = min(row["date"] for row in rows)

        def cold_params(k: int) -> dict[str, str]:
            return {"benchmark": BENCHMARK, "start": (first_day + timedelta(days=k)).isoformat()}

        say(f"cold: {COLD_RUNS} requests, each a new cache key")
        cold = [_timed(client, path, cold_params(k + 1))[0] for k in range(COLD_RUNS)]
        say(f"warm: {WARM_RUNS} requests")
        warm = [_timed(client, path, {"benchmark": BENCHMARK})[0] for _ in range(WARM_RUNS)]

        say(f"/healthz idle for {IDLE_SECONDS:g} s")
        idle = probe_healthz(server.url, lambda: time.sleep(IDLE_SECONDS))
        say(f"/healthz during {LOAD_REQUESTS} cold performance requests")
        loaded_cold: list[float] = []

        def load() -> None:
            for k in range(LOAD_REQUESTS):
                loaded_cold.append(_timed(client, path, cold_params(COLD_RUNS + 1 + k))[0])

        during = probe_healthz(server.url, load)

    slowest = max([*polls[1:], *waiting.latencies])
    cold_median = statistics.median(cold)
    warm_median = statistics.median(warm)
    shape = {
        "holdings": HOLDINGS,
        "transactions": len(rows),
        "years": YEARS,
        "benchmark_symbol": BENCHMARK,
        "series_days": len(first["series"]),
        "database": backend,
        "import_seconds": round(import_seconds, 2),
    }
    return [
        Result(
            name="portfolio_performance.cold",
            value=round(cold_median, 4),
            unit="s",
            baseline=BUDGET_SECONDS,
            ratio=round(BUDGET_SECONDS / cold_median, 3),
            target=1.0,
            details={
                **shape,
                "meaning": "one second over the median cold answer (cache missed, closes stored)",
                "cold_seconds": [round(s, 4) for s in cold],
                "cold_seconds_under_load": [round(s, 4) for s in loaded_cold],
            },
        ),
        Result(
            name="portfolio_performance.warm",
            value=round(warm_median, 4),
            unit="s",
            baseline=round(cold_median, 4),
            ratio=round(cold_median / warm_median, 1),
            target=None,
            details={
                "meaning": "cold median over warm median (the cached answer)",
                "warm_p99_seconds": round(percentile(warm, 0.99), 4),
            },
        ),
        healthz_result("portfolio_performance.healthz", idle, during, "cold performance requests"),
        Result(
            name="portfolio_performance.import_to_complete",
            value=round(to_complete, 2),
            unit="s",
            baseline=COMPLETE_WITHIN,
            ratio=round(COMPLETE_WITHIN / to_complete, 3),
            target=1.0,
            details={
                "meaning": f"{COMPLETE_WITHIN:g} s over the time from posting the CSV to a "
                "performance answer with dataStatus.complete (the history stored by the "
                "worker in the background meanwhile)",
                "import_seconds": round(import_seconds, 2),
                "incomplete_answers": len(partial),
                "progress_seen": [p["progress"] for p in partial],
                "worker_processes": WORKER_PROCESSES,
            },
        ),
        Result(
            name="portfolio_performance.import_blocking",
            value=round(slowest, 3),
            unit="s",
            baseline=BUDGET_SECONDS,
            ratio=round(BUDGET_SECONDS / slowest, 3),
            target=1.0,
            details={
                "meaning": "one second over the slowest answer while the history was stored: "
                "each performance request and each /healthz probe (the import itself, which "
                "checks the rows, is import_seconds)",
                "performance_seconds": [round(p, 3) for p in polls[1:]],
                "healthz": waiting.as_json(),
            },
        ),
    ]


def ledger_rows(today: date) -> list[dict[str, Any]]:
    """2,000 seeded rows: every one of 500 listed equities bought, then more buys, partial
    sales of what is held, dividends on held symbols, deposits and withdrawals; in date order,
    on weekdays over ``YEARS`` years ending the day before ``today``."""
    rng = random.Random(SEED)  # noqa: S311 - seeded test data, not secrets
    equities = [
        item.symbol
        for item in load_universe()
        if item.type is InstrumentType.EQUITY and item.currency == "USD"
    ][:HOLDINGS]
    if len(equities) < HOLDINGS:
        raise RuntimeError(f"the universe holds only {len(equities)} USD equities")
    start = today - timedelta(days=365 * YEARS)
    while start.weekday() >= 5:
        start += timedelta(days=1)
    span = (today - timedelta(days=1) - start).days

    def weekday(after: int, within: int) -> date:
        day = start + timedelta(days=after + rng.randrange(within))
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return max(day, start)

    events: list[tuple[date, str, str | None]] = []
    for symbol in equities:  # first buys within the first two years
        events.append((weekday(0, 730), "buy", symbol))
    counts = {"buy": 800, "sell": 450, "dividend": 150, "deposit": 70, "withdrawal": 30}
    for kind, count in counts.items():
        for _ in range(count):
            chosen = rng.choice(equities) if kind in ("buy", "sell", "dividend") else None
            events.append((weekday(760, span - 760), kind, chosen))
    events.sort(key=lambda e: (e[0], e[1] != "buy"))
    held: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for day, kind, named in events:
        symbol = named or ""
        if kind == "buy":
            quantity = rng.randrange(1, 60)
            held[symbol] = held.get(symbol, 0) + quantity
            rows.append(_row(day, kind, symbol, quantity, rng.uniform(10, 400), rng))
        elif kind == "sell":
            if held.get(symbol, 0) < 2:
                symbol = max(held, key=held.__getitem__)
            quantity = max(1, held[symbol] // 3)
            held[symbol] -= quantity
            rows.append(_row(day, kind, symbol, quantity, rng.uniform(10, 400), rng))
        elif kind == "dividend":
            rows.append({"date": day, "type": kind, "symbol": symbol, "amount": _money(rng, 200)})
        else:
            rows.append({"date": day, "type": kind, "symbol": None, "amount": _money(rng, 5000)})
    if len(rows) != TRANSACTIONS:
        raise RuntimeError(f"built {len(rows)} rows, wanted {TRANSACTIONS}")
    return _funded(rows)


def _funded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with each withdrawal within the cash the ledger holds that day (Flint refuses
    one that overdraws it, `flint.portfolio.cash`): at most half of what the day's money
    coming in leaves after its buys and fees (these are funded from outside when the cash
    lacks them); one with less than a dollar to take becomes a deposit."""
    cash = 0.0
    for _, same_day in itertools.groupby(rows, key=lambda row: row["date"]):  # in date order
        today = list(same_day)
        for row in today:
            kind = row["type"]
            if kind in ("deposit", "dividend"):
                cash += float(row["amount"])
            elif kind in ("buy", "sell"):
                value = row["quantity"] * float(row["price"])
                cash += -value - float(row["fee"]) if kind == "buy" else value - float(row["fee"])
        taken = 0.0
        for row in today:
            if row["type"] != "withdrawal":
                continue
            amount = min(float(row["amount"]), (max(cash, 0.0) - taken) / 2)
            if amount < 1:  # money coming in, settled with the day's buys like the rest
                row["type"] = "deposit"
                cash += float(row["amount"])
            else:
                row["amount"] = f"{math.floor(amount * 100) / 100:.2f}"
                taken += float(row["amount"])
        cash = max(cash, 0.0) - taken
    return rows


def _row(
    day: date, kind: str, symbol: str, quantity: int, price: float, rng: random.Random
) -> dict[str, Any]:
    return {
        "date": day,
        "type": kind,
        "symbol": symbol,
        "quantity": quantity,
        "price": f"{price:.2f}",
        "fee": f"{rng.choice([0, 0, 1, 4.95]):.2f}",
    }


def _money(rng: random.Random, most: float) -> str:
    return f"{rng.uniform(1, most):.2f}"


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    lines = ["date,symbol,type,quantity,price,fee,amount"]
    for row in rows:
        cells = [row["date"].isoformat(), row.get("symbol") or "", row["type"]]
        cells += [str(row.get(name) or "") for name in ("quantity", "price", "fee", "amount")]
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def _timed(client: httpx.Client, path: str, params: dict[str, str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = time.perf_counter() - started
    expect(response, 200)
    return elapsed, response.content


def _check(body: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """The answer is the whole portfolio: every held symbol, ten years of series, figures."""
    held: dict[str, int] = {}
    for row in rows:
        if row["type"] in ("buy", "sell"):
            sign = 1 if row["type"] == "buy" else -1
            held[row["symbol"]] = held.get(row["symbol"], 0) + sign * int(row["quantity"])
    holding = {h["symbol"] for h in body["holdings"]}
    expected = {s for s, q in held.items() if q}
    if holding != expected:
        raise RuntimeError(f"holdings differ: {len(holding)} answered, {len(expected)} held")
    if len(body["series"]) < 240 * YEARS:
        raise RuntimeError(f"the series has only {len(body['series'])} days")
    for name in ("twr", "mwr", "volatility", "sharpe", "maxDrawdown", "beta"):
        if body[name] is None:
            raise RuntimeError(f"{name} is null")
