"""A fresh import's history is stored in the background (`flint.portfolio.history`): the import
sends the backfill once it has committed, a performance request meanwhile answers at once with
what is stored and a ``dataStatus`` saying what is missing, and the backfill, stored batch by
batch, picks up where it was stopped.

Performance requests here fetch nothing while they wait (``performance_inline_bars`` 0), so
only the background task can store the history; the Celery worker is the trades' in-process
one (solo pool, the in-memory broker), started when the test says."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from flint.config import Settings
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.market.models import MarketBar
from flint.portfolio import computing, history
from flint.portfolio.computing import PARTIAL_SECONDS
from flint.runtime import Runtime
from tests.conftest import Account
from tests.reports.conftest import running_worker

pytestmark = pytest.mark.waits

V1 = "/api/v1/portfolio"
SYMBOLS = ["AAPL", "MSFT", "NVDA", "KO", "XOM"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"performance_inline_bars": 0}


def ledger_csv(first: date) -> bytes:
    lines = ["date,symbol,type,quantity,price,fee,amount", f"{first},,deposit,,,,100000"]
    for k, symbol in enumerate(SYMBOLS):
        lines.append(f"{first + timedelta(days=7 * k)},{symbol},buy,{k + 1},100.00,1.00,")
    return ("\n".join(lines) + "\n").encode()


async def import_portfolio(client: httpx.AsyncClient, who: Account, first: date) -> str:
    created = await client.post(
        f"{V1}/", json={"name": "Imported", "assets": []}, headers=who.headers
    )
    assert created.status_code == 201, created.text
    portfolio_id: str = created.json()["portfolioId"]
    imported = await client.post(
        f"{V1}/{portfolio_id}/import",
        content=ledger_csv(first),
        headers={**who.headers, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    return portfolio_id


async def stored_symbols(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(MarketBar.symbol, func.count()).group_by(MarketBar.symbol)
        )
        return {row[0]: row[1] for row in rows}


async def until(check: Any, seconds: float = 90.0) -> Any:
    for _ in range(int(seconds / 0.2)):
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {seconds} s")


async def test_performance_answers_with_what_is_stored_until_the_backfill_has_run(
    client: httpx.AsyncClient, alice: Account, app: FastAPI, settings: Settings
) -> None:
    first = utcnow().date() - timedelta(days=3 * 365)
    portfolio_id = await import_portfolio(client, alice, first)
    url = f"{V1}/{portfolio_id}/performance"
    checked = await stored_symbols(app.state.runtime)  # the import's checks: days around buys
    assert max(checked.values()) < 20

    response = await client.get(url, headers=alice.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dataStatus"] == {
        "complete": False,
        "missingSymbols": sorted([*SYMBOLS, "SPY"]),
        "progress": 0.0,
    }
    # Valued with what is stored: nothing, so every holding stands at its cost.
    assert body["benchmarkReturn"] is None
    assert {h["symbol"] for h in body["holdings"]} == set(SYMBOLS)
    assert await stored_symbols(app.state.runtime) == checked  # the request fetched nothing
    chart = await client.get(f"{url}/chart", params={"format": "svg"}, headers=alice.headers)
    assert chart.status_code == 200, chart.text
    assert "Data incomplete: price history still loading (0% stored)" in chart.text

    async with running_worker(settings):  # the import's task was waiting for a worker

        async def complete() -> dict[str, Any] | None:
            answer = await client.get(url, headers=alice.headers)
            assert answer.status_code == 200, answer.text
            got: dict[str, Any] = answer.json()
            return got if got["dataStatus"]["complete"] else None

        done = await until(complete)
    assert done["dataStatus"] == {"complete": True, "missingSymbols": [], "progress": 1.0}
    assert done["benchmarkReturn"] is not None
    assert len(done["series"]) > 700
    chart = await client.get(f"{url}/chart", params={"format": "svg"}, headers=alice.headers)
    assert "Data incomplete" not in chart.text


async def test_an_import_stores_its_history_without_any_performance_request(
    client: httpx.AsyncClient, alice: Account, app: FastAPI, settings: Settings
) -> None:
    first = utcnow().date() - timedelta(days=400)
    async with running_worker(settings):
        await import_portfolio(client, alice, first)

        async def all_stored() -> bool:
            stored = await stored_symbols(app.state.runtime)
            return set(stored) == {*SYMBOLS, "SPY"}

        await until(all_stored)
    stored = await stored_symbols(app.state.runtime)
    assert all(count > 200 for count in stored.values())


async def test_the_backfill_resumes_where_it_stopped(
    client: httpx.AsyncClient, alice: Account, app: FastAPI
) -> None:
    runtime: Runtime = app.state.runtime
    market = runtime.get(MarketData)
    first = utcnow().date() - timedelta(days=2 * 365)
    portfolio_id = uuid.UUID(await import_portfolio(client, alice, first))
    checked = await stored_symbols(runtime)  # the import's checks: days around buys

    planned = await history.plan(runtime.readers, market, portfolio_id, size=2)
    assert [sorted(batch) for batch in planned] == [
        ["AAPL", "KO"],
        ["MSFT", "NVDA"],
        ["SPY", "XOM"],
    ]
    written = await history.store(runtime.readers, runtime.sessions, market, planned[0])
    assert set(written) == {"AAPL", "KO"}
    assert min(written.values()) > 400

    # Stopped there (the worker killed during the next batch, whose transaction never
    # committed): planned again, only what is still missing comes back.
    again = await history.plan(runtime.readers, market, portfolio_id, size=2)
    assert [sorted(batch) for batch in again] == [["MSFT", "NVDA"], ["SPY", "XOM"]]
    # A batch sent twice (acknowledged late, redelivered) fetches nothing the second time.
    redone = await history.store(runtime.readers, runtime.sessions, market, planned[0])
    assert redone == {"AAPL": 0, "KO": 0}
    # Half of a symbol's window stored: only the other half is fetched.
    msft = again[0]["MSFT"]
    middle = msft[0] + (msft[1] - msft[0]) / 2
    half = await history.store(
        runtime.readers, runtime.sessions, market, {"MSFT": (msft[0], middle)}
    )
    rest = await history.store(runtime.readers, runtime.sessions, market, {"MSFT": msft})
    assert half["MSFT"] > 200
    assert rest["MSFT"] > 200
    for batch in again:
        await history.store(runtime.readers, runtime.sessions, market, batch)
    assert await history.plan(runtime.readers, market, portfolio_id, size=2) == []
    stored = await stored_symbols(runtime)
    assert stored["MSFT"] == checked["MSFT"] + half["MSFT"] + rest["MSFT"]
    assert stored["AAPL"] == checked["AAPL"] + written["AAPL"]


@pytest.mark.parametrize(
    "settings_overrides", [{"performance_inline_bars": 0, "performance_workers": 1}]
)
async def test_the_performance_processes_answer_with_what_is_stored_too(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = utcnow().date() - timedelta(days=365)
    portfolio_id = await import_portfolio(client, alice, first)
    response = await client.get(f"{V1}/{portfolio_id}/performance", headers=alice.headers)
    assert response.status_code == 200, response.text
    status = response.json()["dataStatus"]
    assert status["complete"] is False
    assert status["missingSymbols"] == sorted([*SYMBOLS, "SPY"])


async def partly_imported(
    client: httpx.AsyncClient, who: Account, app: FastAPI
) -> tuple[str, httpx.Response, list[history.Windows]]:
    """A year's ledger imported with no worker running: its performance URL, the first
    answer (from what is stored), and its history planned in batches of two symbols."""
    portfolio_id = await import_portfolio(client, who, utcnow().date() - timedelta(days=365))
    url = f"{V1}/{portfolio_id}/performance"
    before = await client.get(url, headers=who.headers)
    assert before.status_code == 200, before.text
    runtime: Runtime = app.state.runtime
    market = runtime.get(MarketData)
    planned = await history.plan(runtime.readers, market, uuid.UUID(portfolio_id), size=2)
    return url, before, planned


async def store(app: FastAPI, batch: history.Windows) -> None:
    """One batch stored, as the worker's task does."""
    runtime: Runtime = app.state.runtime
    await history.store(runtime.readers, runtime.sessions, runtime.get(MarketData), batch)


async def test_an_answer_from_part_of_the_history_is_answered_at_once_and_renewed_behind(
    client: httpx.AsyncClient, alice: Account, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client polling during an import: asked again within `PARTIAL_SECONDS`, the answer is
    the one just computed (the polls do not keep a performance process from the batches);
    asked later, the request is still answered with it at once while it is computed again in
    the background, and the requests after that see the batch stored meanwhile."""
    monkeypatch.setattr(computing, "PARTIAL_COST_TIMES", 0.0)  # fresh for PARTIAL_SECONDS
    url, before, planned = await partly_imported(client, alice, app)
    assert before.json()["dataStatus"]["progress"] == 0.0

    await store(app, planned[0])
    again = await client.get(url, headers=alice.headers)
    assert again.content == before.content

    await asyncio.sleep(PARTIAL_SECONDS + 0.1)
    stale = await client.get(url, headers=alice.headers)
    assert stale.status_code == 200, stale.text
    assert stale.content == before.content  # at once, while the new answer is computed

    async def renewed() -> dict[str, Any] | None:
        answer = await client.get(url, headers=alice.headers)
        assert answer.status_code == 200, answer.text
        status: dict[str, Any] = answer.json()["dataStatus"]
        return status if status["progress"] > 0 else None

    status = await until(renewed, seconds=30)
    assert status["complete"] is False
    assert set(status["missingSymbols"]) == {*SYMBOLS, "SPY"} - set(planned[0])


async def test_a_partial_answer_that_was_costly_to_compute_is_kept_longer(
    client: httpx.AsyncClient, alice: Account, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer from part of the history is kept `PARTIAL_COST_TIMES` as long as it took to
    compute (when that is longer than `PARTIAL_SECONDS`): a large portfolio's polls do not
    recompute it every second, each time taking a performance process from the batches.
    Here the factor is so large that no poll within the test renews it, while with
    `PARTIAL_SECONDS` alone it would have been renewed behind the first poll."""
    monkeypatch.setattr(computing, "PARTIAL_SECONDS", 0.05)
    monkeypatch.setattr(computing, "PARTIAL_COST_TIMES", 1e6)
    url, before, planned = await partly_imported(client, alice, app)
    assert before.json()["dataStatus"]["progress"] == 0.0

    await store(app, planned[0])
    for _ in range(3):
        await asyncio.sleep(0.5)  # time enough for a renewal behind a poll to finish
        again = await client.get(url, headers=alice.headers)
        assert again.status_code == 200, again.text
        assert again.content == before.content
    service = app.state.runtime.get(computing.PerformanceService)
    assert not service.refreshing


async def test_a_partial_answer_gives_way_as_soon_as_every_symbol_it_lacked_is_stored(
    client: httpx.AsyncClient, alice: Account, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last batch stored, the next requests find the complete answer (computed behind the
    first of them), not the partial one for the rest of its `PARTIAL_SECONDS` (here a minute,
    so only noticing the writes can end it); a batch that leaves symbols missing does not."""
    monkeypatch.setattr(computing, "PARTIAL_SECONDS", 60.0)
    url, before, planned = await partly_imported(client, alice, app)
    assert before.json()["dataStatus"]["complete"] is False

    assert len(planned) == 3
    for batch in planned[:-1]:
        await store(app, batch)
    assert (await client.get(url, headers=alice.headers)).content == before.content
    await store(app, planned[-1])

    async def complete() -> dict[str, Any] | None:
        answer = await client.get(url, headers=alice.headers)
        assert answer.status_code == 200, answer.text
        got: dict[str, Any] = answer.json()
        return got if got["dataStatus"]["complete"] else None

    done = await until(complete, seconds=30)
    assert done["dataStatus"] == {"complete": True, "missingSymbols": [], "progress": 1.0}
