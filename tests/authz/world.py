"""A user with one of everything, made through the API (and a worker), for the authorization
matrix to try the ids of: the user's ids by kind (the kinds of `tests.routes`), and the text
only this user's data holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from flint.trades.models import Trade
from tests.auth.helpers import bearer
from tests.auth.helpers_two_factor import Authenticator, Clock, turn_on
from tests.conftest import Account, sign_up
from tests.notifications.conftest import eventually
from tests.routes import (
    ACCOUNT,
    ALERT,
    HELD_LOT,
    IDEMPOTENCY,
    JOB,
    KEY,
    LISTED,
    NOTIFICATION,
    ORDER,
    PORTFOLIO,
    PREVIEW,
    REPORT,
    SIGN_IN,
    SYMBOL,
    TABLE,
    TRADE,
    TRANSACTION,
    UNKNOWN_TRADE,
    USER,
)
from tests.trades.conftest import link_sandbox
from tests.users.keys_helpers import make_key

V1 = "/api/v1"


@dataclass
class World:
    account: Account
    ids: dict[str, str]
    secrets: set[str] = field(default_factory=set)
    """Everything of this user's another user must never see: ids, names, the email."""
    authenticator: Authenticator | None = None
    """The user's authenticator app (two-factor sign-in is on)."""

    @property
    def headers(self) -> dict[str, str]:
        return self.account.headers


def ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200, 201)), response.text
    body: dict[str, Any] = response.json()
    return body


async def build(client: httpx.AsyncClient, app: FastAPI, name: str) -> World:
    """`name`'s account with a linked sandbox (brokerage, checking, savings), a custom asset
    with prices, a portfolio (lots, a deposit, an import job done in the background), a
    watchlist item, an alert, a trade preview, a filled trade, a trade left `unknown`, a
    completed report, notifications, an API key and two-factor sign-in. Needs the `worker`
    fixture."""
    tag = name.upper()
    account = await sign_up(client, f"{name.lower()}@example.com")
    world = World(account, {USER: account.user_id, LISTED: "MSFT", IDEMPOTENCY: f"{tag}-key-1"})
    ids, headers = world.ids, account.headers

    async def post(path: str, body: Any) -> dict[str, Any]:
        return ok(await client.post(V1 + path, json=body, headers=headers))

    linked = await link_sandbox(client, account, f"{name.lower()}-login")  # a login of their own
    ids[ACCOUNT] = next(a["accountId"] for a in linked["accounts"] if a["canTrade"])
    ids[SYMBOL] = f"MY:{tag}HOUSE"
    house = {"symbol": ids[SYMBOL], "name": f"{name}'s house", "assetClass": "real_estate"}
    await post("/assets", house)
    prices = [{"date": "2024-01-02", "price": "300000"}]
    ok(await client.put(f"{V1}/assets/{ids[SYMBOL]}/prices", json=prices, headers=headers))
    lots = [
        {"symbol": "AAPL", "quantity": "10", "purchasePrice": "150", "purchaseDate": "2024-03-01"},
        {"symbol": ids[SYMBOL], "quantity": "1", "purchasePrice": "300000"}
        | {"purchaseDate": "2024-02-01"},
    ]
    portfolio = await post("/portfolio/", {"name": f"{name}'s savings", "assets": lots})
    ids[PORTFOLIO] = portfolio["portfolioId"]
    ids[HELD_LOT] = portfolio["assets"][0]["lotId"]
    ledger = f"/portfolio/{ids[PORTFOLIO]}"
    deposit = {"date": "2024-04-01", "type": "deposit", "amount": "5000"}
    ids[TRANSACTION] = (await post(f"{ledger}/transactions", deposit))["transactionId"]
    await post("/watchlist/add", {"userId": ids[USER], "asset": ids[LISTED]})
    alert = {"symbol": "AAPL", "condition": "above", "threshold": "100000"}
    ids[ALERT] = (await post("/alerts", alert))["alertId"]

    await _trades(client, app, world)
    await _background_work(client, world)
    await _history_stored(client, world)
    notices = ok(await client.get(f"{V1}/notifications", headers=headers))
    ids[NOTIFICATION] = notices["notifications"][0]["notificationId"]
    ids[KEY] = (await make_key(client, account, "read"))["id"]
    ids[SIGN_IN] = await _another_device(client, account)
    # The app's clock is the wall's.
    world.authenticator = await turn_on(client, account, Clock(datetime.now(UTC)))
    world.secrets = {value for kind, value in ids.items() if kind != LISTED}
    world.secrets |= {account.email, f"{name}'s house", f"{name}'s savings"}
    return world


async def _history_stored(client: httpx.AsyncClient, world: World) -> None:
    """Waits for the worker to store the portfolio's price history (its backfill): until
    then its performance answers with what is stored, and a later read of the owner's, to see
    that nothing changed, would see the history come in (a flake, once in some CI runs)."""
    url = f"{V1}/portfolio/{world.ids[PORTFOLIO]}/performance"

    async def complete() -> bool:
        answer = ok(await client.get(url, headers=world.headers))
        return bool(answer["dataStatus"]["complete"])

    await eventually(complete, "the portfolio's history stored", within=60)


async def _another_device(client: httpx.AsyncClient, account: Account) -> str:
    """The id of a second sign-in of ``account`` (its phone's), which the table's DELETE may
    end without signing the account's own token out."""
    phone = ok(
        await client.post(
            f"{V1}/auth/login",
            json={"email": account.email, "password": account.password},
            headers={"User-Agent": "FlintPhone/1.0"},
        )
    )
    listed = ok(await client.get(f"{V1}/auth/sessions", headers=bearer(phone["token"])))
    return str(next(s["sessionId"] for s in listed["sessions"] if s["current"]))


async def _trades(client: httpx.AsyncClient, app: FastAPI, world: World) -> None:
    """A preview left unused and a filled trade, both with the user's Idempotency-Key and the
    table's own bodies (so the same request again is a replay), and a trade left `unknown`."""
    ids = world.ids
    for path in ("/trades/preview", "/trades/execute"):
        request = TABLE[("POST", path)].request(ids, "header.Idempotency-Key")
        answer = ok(await request.send(client, V1, world.headers))
        if path == "/trades/preview":
            ids[PREVIEW] = answer["previewId"]
        else:
            assert answer["status"] == "filled", answer
            ids[TRADE], ids[ORDER] = answer["tradeId"], answer["providerOrderId"]
    plain = TABLE[("POST", "/trades/execute")].request(ids)
    second = ok(await plain.send(client, V1, world.headers))
    ids[UNKNOWN_TRADE] = second["tradeId"]
    async with app.state.runtime.sessions.begin() as session:  # as a lost answer leaves it
        await session.execute(
            update(Trade)
            .where(Trade.id == uuid.UUID(second["tradeId"]))
            .values(status="unknown", provider_order_id=None)
        )


async def _background_work(client: httpx.AsyncClient, world: World) -> None:
    """An import done in the background and a completed report, waited for."""
    ids, headers = world.ids, world.headers
    ledger = f"{V1}/portfolio/{ids[PORTFOLIO]}"
    job = ok(
        await client.post(
            f"{ledger}/import",
            content=b"date,symbol,type,quantity,price\n2024-05-01,AAPL,buy,1,170\n",
            headers={**headers, "content-type": "text/csv", "Prefer": "respond-async"},
        ),
        202,
    )
    ids[JOB] = job["jobId"]
    body = {"type": "transactions", "format": "csv", "portfolioId": ids[PORTFOLIO]}
    report = ok(await client.post(f"{V1}/reports/", json=body, headers=headers), 202)
    ids[REPORT] = report["reportId"]

    async def finished() -> bool:
        job_now = ok(await client.get(f"{ledger}/imports/{ids[JOB]}", headers=headers))
        report_now = ok(await client.get(f"{V1}/reports/{ids[REPORT]}", headers=headers))
        assert job_now["status"] != "failed", job_now
        assert report_now["status"] != "failed", report_now
        return bool(job_now["status"] == "done" and report_now["status"] == "completed")

    await eventually(finished, "the import and the report done", within=60)
