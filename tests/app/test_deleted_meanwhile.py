"""A request that loses a race with a deletion (its account closed, its portfolio deleted
while it was on its way) is a 409 to ask again, never a 500; and it writes nothing."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, func, select

from flint.alerts.models import Alert
from flint.users.api import Principals
from flint.users.models import User
from tests.conftest import Account, assert_problem


async def test_a_write_for_an_account_closed_meanwhile_is_a_409_and_then_a_401(
    client: httpx.AsyncClient, app: FastAPI, alice: Account
) -> None:
    assert (await client.get("/api/v1/alerts", headers=alice.headers)).status_code == 200
    runtime = app.state.runtime
    async with runtime.sessions.begin() as session:  # closed by another request, whose
        await session.execute(delete(User).where(User.id == uuid.UUID(alice.user_id)))
    # ...forgetting of the sign-in has not reached this request yet (the cached state says
    # the token is good, as it did when this request was checked).

    alert = {"symbol": "AAPL", "condition": "above", "threshold": "500"}
    raced = await client.post("/api/v1/alerts", json=alert, headers=alice.headers)

    problem = assert_problem(raced, 409)
    assert problem["detail"] == (
        "Something this request refers to was deleted while it was on its way (by another "
        "request); ask again."
    )
    assert "Traceback" not in raced.text
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Alert)) == 0
    await runtime.get(Principals).forget(uuid.UUID(alice.user_id))
    again = await client.post("/api/v1/alerts", json=alert, headers=alice.headers)
    assert_problem(again, 401)
