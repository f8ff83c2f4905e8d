"""Large imports in the background: 202 with a job, a worker imports the file (all rows or
none), the job says what it added or the 422 the file would have had; a second delivery of the
task adds nothing; the sweep publishes a job whose message was lost; another user's job is 404."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from flint.config import Settings
from flint.kit.time import utcnow
from flint.portfolio import import_jobs, tasks
from flint.portfolio.import_router import wants_async
from flint.portfolio.models import ImportJob, Portfolio, PortfolioTransaction
from tests.conftest import Account, assert_problem, error_fields, lose_handoffs, until_final
from tests.portfolio.test_import_export import CSV, V1, new_portfolio
from tests.reports.conftest import running_worker
from tests.trades.conftest import worker

__all__ = ["worker"]

ASYNC = {"Prefer": "respond-async"}
SMALL = """date,symbol,type,quantity,price,fee,amount
2024-01-02,,deposit,,,,10000
2024-01-03,AAPL,buy,10,185.50,1.00,
2024-03-01,AAPL,dividend,,,,4.80
"""


def large_file(min_bytes: int) -> str:
    """Deposits, five a weekday from 2015 on, until the file is over ``min_bytes``."""
    lines = ["date,symbol,type,quantity,price,fee,amount"]
    day = date(2015, 1, 5)
    size = len(lines[0])
    k = 0
    while size <= min_bytes:
        for _ in range(5 if day.weekday() < 5 else 0):
            k += 1
            line = f"{day.isoformat()},,deposit,,,,{k}.25"
            lines.append(line)
            size += len(line) + 1
        day += timedelta(days=1)
    return "\n".join(lines) + "\n"


async def post(
    client: httpx.AsyncClient,
    who: Account,
    portfolio_id: str,
    body: str,
    headers: dict[str, str] | None = None,
    **query: str,
) -> httpx.Response:
    return await client.post(
        f"{V1}/{portfolio_id}/import",
        content=body,
        params=query,
        headers=who.headers | CSV | (headers or {}),
    )


async def accepted(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, body: str, **query: str
) -> dict[str, Any]:
    response = await post(client, who, portfolio_id, body, ASYNC, **query)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert job["status"] == "queued"
    assert response.headers["preference-applied"] == "respond-async"
    assert response.headers["location"] == f"{V1}/{portfolio_id}/imports/{job['jobId']}"
    return job


async def finished(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, job_id: str, seconds: float = 60
) -> dict[str, Any]:
    url = f"{V1}/{portfolio_id}/imports/{job_id}"
    return await until_final(client, url, who.headers, ("done", "failed"), seconds)


async def ledger_size(app: FastAPI, portfolio_id: str) -> int:
    async with app.state.runtime.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(PortfolioTransaction)
            .where(PortfolioTransaction.portfolio_id == uuid.UUID(portfolio_id))
        )
    return int(count or 0)


@pytest.mark.usefixtures("worker")
async def test_a_file_sent_to_the_background_is_imported_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    job = await accepted(client, alice, portfolio_id, SMALL)
    assert job["sizeBytes"] == len(SMALL.encode())
    done = await finished(client, alice, portfolio_id, job["jobId"])
    assert done["status"] == "done", done
    assert done["result"] == {
        "preset": "flint",
        "added": 3,
        "skipped": 0,
        "imported": {"deposit": 1, "buy": 1, "dividend": 1},
    }
    assert done["problem"] is None
    assert done["startedAt"] is not None
    assert done["finishedAt"] >= done["startedAt"]
    assert await ledger_size(app, portfolio_id) == 3

    again = await finished(
        client, alice, portfolio_id, (await accepted(client, alice, portfolio_id, SMALL))["jobId"]
    )
    assert again["result"]["added"] == 0
    assert again["result"]["skipped"] == 3
    assert await ledger_size(app, portfolio_id) == 3

    listed = await client.get(f"{V1}/{portfolio_id}/imports", headers=alice.headers)
    assert listed.status_code == 200
    assert [j["jobId"] for j in listed.json()["imports"]] == [again["jobId"], done["jobId"]]


@pytest.mark.usefixtures("worker")
async def test_a_file_over_the_limit_goes_to_the_background_unasked(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    body = large_file(import_jobs.BACKGROUND_BYTES)
    response = await post(client, alice, portfolio_id, body)
    assert response.status_code == 202, response.text
    assert "preference-applied" not in response.headers
    done = await finished(client, alice, portfolio_id, response.json()["jobId"])
    rows = body.count("\n") - 1
    assert done["result"]["imported"] == {"deposit": rows}
    assert await ledger_size(app, portfolio_id) == rows

    small = await post(client, alice, portfolio_id, SMALL)  # at once, as before
    assert small.status_code == 201, small.text
    assert len(small.json()["transactions"]) == 3


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (SMALL.replace("185.50", "1e999999"), "line 3.price"),  # the preset refuses it
        (SMALL + "2024-04-01,AAPL,sell,11,190,,\n", "line 5.quantity"),  # the ledger's rules
    ],
)
async def test_a_refused_file_fails_the_job_with_its_422_and_adds_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, body: str, field: str
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    direct = await post(client, alice, portfolio_id, body)  # the answer at once, for reference
    assert_problem(direct, 422)
    job = await accepted(client, alice, portfolio_id, body)
    done = await finished(client, alice, portfolio_id, job["jobId"])
    assert done["status"] == "failed", done
    assert done["result"] is None
    problem = done["problem"]
    assert problem["status"] == 422
    assert problem["type"] == "/problems/validation-error"
    assert problem["detail"] == direct.json()["detail"]
    assert field in {e["field"] for e in problem["errors"]}
    assert {e["field"] for e in problem["errors"]} == error_fields(direct.json())
    assert await ledger_size(app, portfolio_id) == 0


async def lost_job(app: FastAPI, portfolio_id: str, body: str) -> str:
    """A job committed, its message then lost (taken by the broker, its hand-off deleted)."""
    async with app.state.runtime.sessions() as session:
        portfolio = await session.get(Portfolio, uuid.UUID(portfolio_id))
        assert portfolio is not None
        job = await import_jobs.create(session, portfolio, body.encode(), "flint", "skip")
        await lose_handoffs(session)
        await session.commit()  # not flint.db.commit: the publish waiting for it never runs
        return str(job.id)


async def test_a_second_delivery_of_the_task_adds_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    job_id = await lost_job(app, portfolio_id, SMALL)

    def deliver() -> Any:
        return tasks.import_file.apply([job_id]).get()

    async with running_worker(settings):
        # Two deliveries, as after a worker killed before it acknowledged the first.
        first = await anyio.to_thread.run_sync(deliver)
        second = await anyio.to_thread.run_sync(deliver)
        assert (first, second) == ("done", "finished")
        done = await finished(client, alice, portfolio_id, job_id)
    assert done["result"]["added"] == 3
    assert await ledger_size(app, portfolio_id) == 3


async def test_a_job_taken_by_a_worker_that_died_is_imported_by_the_next(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    job_id = await lost_job(app, portfolio_id, SMALL)
    async with app.state.runtime.sessions() as session:  # taken, then the worker died
        assert await import_jobs.begin(session, uuid.UUID(job_id)) is not None
        await session.commit()
    taken = await client.get(f"{V1}/{portfolio_id}/imports/{job_id}", headers=alice.headers)
    assert taken.json()["status"] == "running"
    assert await ledger_size(app, portfolio_id) == 0

    async with running_worker(settings):
        assert await anyio.to_thread.run_sync(lambda: tasks.sweep_imports.apply().get()) == 0
        async with app.state.runtime.sessions() as session:
            await session.execute(
                update(ImportJob).values(started_at=utcnow() - import_jobs.RUNNING_FOR * 2)
            )
            await session.commit()
        assert await anyio.to_thread.run_sync(lambda: tasks.sweep_imports.apply().get()) == 1
        done = await finished(client, alice, portfolio_id, job_id)
    assert done["status"] == "done"
    assert done["result"]["added"] == 3
    assert await ledger_size(app, portfolio_id) == 3


async def test_a_file_that_keeps_killing_its_worker_fails_for_good(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    job_id = uuid.UUID(await lost_job(app, portfolio_id, SMALL))
    for _ in range(import_jobs.MAX_ATTEMPTS):
        async with app.state.runtime.sessions() as session:
            assert await import_jobs.begin(session, job_id) is not None
            await session.commit()
    async with app.state.runtime.sessions() as session:
        assert await import_jobs.begin(session, job_id) is None
        await session.commit()
    failed = (
        await client.get(f"{V1}/{portfolio_id}/imports/{job_id}", headers=alice.headers)
    ).json()
    assert failed["status"] == "failed"
    assert failed["problem"]["status"] == 500
    assert f"stopped {import_jobs.MAX_ATTEMPTS} times" in failed["problem"]["detail"]
    assert await ledger_size(app, portfolio_id) == 0


async def test_another_users_import_is_not_found(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    alices = await new_portfolio(client, alice)
    bobs = await new_portfolio(client, bob)
    job = await accepted(client, alice, alices, SMALL)
    for path in (f"{V1}/{alices}/imports/{job['jobId']}", f"{V1}/{bobs}/imports/{job['jobId']}"):
        assert_problem(await client.get(path, headers=bob.headers), 404)
    assert_problem(await client.get(f"{V1}/{alices}/imports", headers=bob.headers), 404)
    assert_problem(await post(client, bob, alices, SMALL, ASYNC), 404)
    mine = await client.get(f"{V1}/{bobs}/imports", headers=bob.headers)
    assert mine.json() == {"imports": []}
    unknown = f"{V1}/{alices}/imports/{uuid.uuid4()}"
    assert_problem(await client.get(unknown, headers=alice.headers), 404)


@pytest.mark.parametrize(
    ("prefer", "wanted"),
    [
        ("respond-async", True),
        ("wait=10, respond-async", True),
        ("Respond-Async; x=1", True),
        ("return=minimal", False),
        ("respond-asynchronously", False),
        ("", False),
    ],
)
def test_the_prefer_header_is_read_as_rfc_7240_writes_it(prefer: str, wanted: bool) -> None:
    assert wants_async(prefer) is wanted
