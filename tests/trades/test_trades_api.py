"""Trades through the sandbox broker, submitted by a real worker: fills, refusals before
anything is sent, idempotency, cancel, the audit trail and the owner's notification."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from flint.idempotency import IdempotencyKey
from flint.kit.time import utcnow
from flint.notifications.models import OutboxMessage
from flint.trades.models import Trade
from tests.conftest import Account, assert_problem, error_fields
from tests.trades.conftest import link_sandbox

V1 = "/api/v1/trades"


def order(account_id: str, **fields: Any) -> dict[str, Any]:
    return {"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"} | fields


async def trade_count(app: FastAPI) -> int:
    async with app.state.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Trade)) or 0)


@pytest.mark.usefixtures("worker")
async def test_a_new_user_buys_fractional_bitcoin_and_whole_shares_then_sells_them(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    btc = await client.post(
        f"{V1}/execute",
        json=order(account_id, asset="BTC-USD", quantity="0.01234567"),
        headers=alice.headers,
    )
    assert btc.status_code == 201, btc.text
    bought = btc.json()
    assert bought["status"] == "filled"
    assert bought["filledQuantity"] == "0.01234567"
    assert Decimal(bought["averagePrice"]) > 0
    assert bought["providerOrderId"]

    shares = await client.post(f"{V1}/execute", json=order(account_id), headers=alice.headers)
    assert shares.json()["status"] == "filled"
    # Each fill re-syncs the account in the background: its cash shows both buys.
    spent = sum(
        (
            (Decimal(str(t["filledQuantity"])) * Decimal(str(t["averagePrice"]))).quantize(
                Decimal("0.01")
            )
            for t in (bought, shares.json())
        ),
        Decimal(0),
    )
    for _ in range(100):
        detail = (await client.get(f"/api/v1/accounts/{account_id}", headers=alice.headers)).json()
        if Decimal(str(detail["balances"]["cash"])) == Decimal(100000) - spent:
            break
        await asyncio.sleep(0.1)
    assert Decimal(str(detail["balances"]["cash"])) == Decimal(100000) - spent

    sell = await client.post(
        f"{V1}/execute",
        json=order(account_id, asset="BTC-USD", action="sell", quantity="0.01234567"),
        headers=alice.headers,
    )
    assert sell.status_code == 201
    assert sell.json()["status"] == "filled"

    listed = (await client.get(V1, params={"accountId": account_id}, headers=alice.headers)).json()
    assert [t["tradeId"] for t in listed["trades"]] == [
        sell.json()["tradeId"],
        shares.json()["tradeId"],
        bought["tradeId"],
    ]
    filled = await client.get(V1, params={"status": "filled"}, headers=alice.headers)
    assert len(filled.json()["trades"]) == 3
    one = await client.get(f"{V1}/{bought['tradeId']}", headers=alice.headers)
    assert one.json() == bought
    trail = (await client.get(f"{V1}/{bought['tradeId']}/events", headers=alice.headers)).json()[
        "events"
    ]
    assert [event["status"] for event in trail] == ["pending", "filled"]

    async with app.state.runtime.sessions() as session:
        mails = (await session.execute(select(OutboxMessage.subject))).scalars().all()
    assert any(subject.startswith("Filled: bought 0.01234567 BTC-USD") for subject in mails)


@pytest.mark.usefixtures("worker")
async def test_a_position_is_sold_under_either_spelling_of_its_symbol(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Bought as ``BRK-B`` (the market's name), held under it, and sold as ``BRK.B``: the
    check before sending compared the broker's holdings by spelling and found none held."""
    account_id = (await link_sandbox(client, alice))["accountId"]
    bought = await client.post(
        f"{V1}/execute", json=order(account_id, asset="BRK-B"), headers=alice.headers
    )
    assert bought.json()["status"] == "filled", bought.text

    sold = await client.post(
        f"{V1}/execute",
        json=order(account_id, asset="brk.b", action="sell"),
        headers=alice.headers,
    )

    assert sold.status_code == 201, sold.text
    assert sold.json()["status"] == "filled", sold.text
    assert sold.json()["filledQuantity"] == "2"


@pytest.mark.usefixtures("worker")
async def test_refused_trades_are_422_and_nothing_is_created(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    accounts = (await link_sandbox(client, alice, "cash-1000"))["accounts"]
    brokerage = next(a["accountId"] for a in accounts if a["type"] == "brokerage")
    checking = next(a["accountId"] for a in accounts if a["type"] == "checking")
    cases: list[tuple[dict[str, Any], str]] = [
        (order(brokerage, action="hold"), "body.action"),
        (order(brokerage, quantity="0"), "body.quantity"),
        (order(brokerage, quantity="-1"), "body.quantity"),
        (order(brokerage, quantity="abc"), "body.quantity"),
        (order(brokerage, quantity="NaN"), "body.quantity"),
        (order(brokerage, quantity="1e30"), "body.quantity"),
        (order(brokerage, quantity="0.123456789"), "body.quantity"),
        (order(brokerage, orderType="limit"), "body.limitPrice"),
        (order(brokerage, orderType="stop", stopPrice="-5"), "body.stopPrice"),
        (order(brokerage, orderType="limit", limitPrice="0"), "body.limitPrice"),
        (order(brokerage, asset="NOSUCHCO"), "body.asset"),
        (order(brokerage, asset="bad symbol!"), "body.asset"),
        (order(checking), "body.accountId"),
        (order(brokerage, quantity="1000"), "body.quantity"),  # $1,000 of cash
        (order(brokerage, action="sell", asset="TSLA", quantity="1"), "body.quantity"),
    ]
    for body, field in cases:
        response = await client.post(f"{V1}/execute", json=body, headers=alice.headers)
        problem = assert_problem(response, 422)
        assert any(name.startswith(field) for name in error_fields(problem)), (body, problem)
    assert await trade_count(app) == 0


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"orderType": "stop_limit"},
            {
                ("body.limitPrice", "limitPrice is required for stop_limit orders"),
                ("body.stopPrice", "stopPrice is required for stop_limit orders"),
            },
        ),
        (
            {"orderType": "market", "stopPrice": "5"},
            {("body.stopPrice", "stopPrice does not apply to market orders")},
        ),
    ],
)
async def test_an_order_types_prices_are_refused_at_their_fields(
    app: FastAPI,
    client: httpx.AsyncClient,
    alice: Account,
    fields: dict[str, str],
    errors: set[tuple[str, str]],
) -> None:
    """Each price named where it goes or is missing (it was the whole body, and only the
    first of two)."""
    body = order(str(uuid.uuid4()), **fields)
    problem = assert_problem(
        await client.post(f"{V1}/execute", json=body, headers=alice.headers), 422
    )
    assert {(e["field"], e["message"]) for e in problem["errors"]} == errors
    assert await trade_count(app) == 0


async def test_another_users_account_or_trade_is_404(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    response = await client.post(f"{V1}/execute", json=order(account_id), headers=bob.headers)
    assert_problem(response, 404)
    assert_problem(await client.get(f"{V1}/{uuid.uuid4()}", headers=bob.headers), 404)
    assert (await client.get(V1, headers=bob.headers)).json() == {"trades": [], "nextCursor": None}


@pytest.mark.usefixtures("worker")
async def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    headers = alice.headers | {"Idempotency-Key": "order-" + uuid.uuid4().hex}
    first = await client.post(f"{V1}/execute", json=order(account_id), headers=headers)
    again = await client.post(f"{V1}/execute", json=order(account_id), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = await client.post(
        f"{V1}/execute", json=order(account_id, quantity="3"), headers=headers
    )
    assert "header.Idempotency-Key" in error_fields(assert_problem(other, 422))
    assert await trade_count(app) == 1
    too_long = alice.headers | {"Idempotency-Key": "k" * 256}
    assert_problem(
        await client.post(f"{V1}/execute", json=order(account_id), headers=too_long), 422
    )


@pytest.mark.usefixtures("worker")
async def test_a_key_whose_request_died_between_its_two_commits_replays_the_trade(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    """The first request commits the trade with its key, waits for the broker, then keeps its
    answer in a second commit. A crash in between must not leave the key answering 409 for a
    day: once that request cannot still be running, the answer is rebuilt from the trade."""
    account_id = (await link_sandbox(client, alice))["accountId"]
    key = "crash-" + uuid.uuid4().hex
    headers = alice.headers | {"Idempotency-Key": key}
    first = await client.post(f"{V1}/execute", json=order(account_id), headers=headers)
    assert first.status_code == 201, first.text

    async def age_key(**values: Any) -> None:
        async with app.state.runtime.sessions() as session:
            await session.execute(
                update(IdempotencyKey).where(IdempotencyKey.key == key).values(**values)
            )
            await session.commit()

    # What the crash leaves: the key names the committed trade, no answer was kept.
    await age_key(status_code=None, response=None)
    in_flight = await client.post(f"{V1}/execute", json=order(account_id), headers=headers)
    assert_problem(in_flight, 409)  # the first request could still be answering

    await age_key(created_at=utcnow() - timedelta(hours=1))  # it is long gone now
    again = await client.post(f"{V1}/execute", json=order(account_id), headers=headers)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await trade_count(app) == 1
    async with app.state.runtime.sessions() as session:
        kept = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == key))
    assert kept is not None
    assert (kept.status_code, kept.response) == (201, first.json())


@pytest.mark.usefixtures("worker")
async def test_concurrent_requests_with_one_key_make_one_trade(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    headers = alice.headers | {"Idempotency-Key": "burst-" + uuid.uuid4().hex}
    answers = await asyncio.gather(
        *(client.post(f"{V1}/execute", json=order(account_id), headers=headers) for _ in range(50))
    )
    assert {a.status_code for a in answers} <= {201, 409}
    ids = {a.json()["tradeId"] for a in answers if a.status_code == 201}
    assert len(ids) == 1
    assert await trade_count(app) == 1
    detail = (await client.get(f"/api/v1/accounts/{account_id}", headers=alice.headers)).json()
    assert detail["accountId"] == account_id


@pytest.mark.usefixtures("worker")
async def test_a_resting_limit_order_is_accepted_then_canceled(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    body = order(account_id, orderType="limit", limitPrice="1.00", timeInForce="gtc")
    placed = await client.post(f"{V1}/execute", json=body, headers=alice.headers)
    assert placed.status_code == 202, placed.text
    assert placed.json()["status"] == "submitted"
    trade_id = placed.json()["tradeId"]
    canceled = await client.delete(f"{V1}/{trade_id}", headers=alice.headers)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    again = await client.delete(f"{V1}/{trade_id}", headers=alice.headers)
    assert_problem(again, 409)
    trail = (await client.get(f"{V1}/{trade_id}/events", headers=alice.headers)).json()["events"]
    assert [event["status"] for event in trail] == ["pending", "submitted", "canceled"]


async def test_without_a_worker_the_trade_waits_pending_and_can_be_canceled(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    app.state.runtime.settings.trade_wait_seconds = 0.2
    placed = await client.post(f"{V1}/execute", json=order(account_id), headers=alice.headers)
    assert placed.status_code == 202
    assert placed.json()["status"] == "pending"
    canceled = await client.delete(f"{V1}/{placed.json()['tradeId']}", headers=alice.headers)
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["reason"] == "canceled before it was sent"


@pytest.mark.usefixtures("worker")
async def test_unlinking_keeps_the_trade_history(client: httpx.AsyncClient, alice: Account) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    placed = await client.post(f"{V1}/execute", json=order(account_id), headers=alice.headers)
    assert placed.json()["status"] == "filled"
    gone = await client.delete(f"/api/v1/accounts/{account_id}", headers=alice.headers)
    assert gone.status_code == 204
    kept = (await client.get(V1, headers=alice.headers)).json()["trades"]
    assert [t["tradeId"] for t in kept] == [placed.json()["tradeId"]]
    again = await client.post(f"{V1}/execute", json=order(account_id), headers=alice.headers)
    assert_problem(again, 404)  # the account itself is gone from the API


@pytest.mark.usefixtures("worker")
async def test_every_trade_is_listed_a_page_at_a_time_newest_first(
    client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    placed = []
    for quantity in ("1", "2", "3", "4", "5"):
        made = await client.post(
            f"{V1}/execute", json=order(account_id, quantity=quantity), headers=alice.headers
        )
        assert made.status_code == 201, made.text
        placed.append(made.json()["tradeId"])

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(4):
        query = {"limit": 2, "accountId": account_id} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(V1, params=query, headers=alice.headers)).json()
        seen += [trade["tradeId"] for trade in page["trades"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert (seen, cursor) == (placed[::-1], None)  # each once, newest first, then no more
    whole = (await client.get(V1, headers=alice.headers)).json()
    assert [t["tradeId"] for t in whole["trades"]] == placed[::-1]
    assert whole["nextCursor"] is None
    refused = await client.get(V1, params={"cursor": "not-one"}, headers=alice.headers)
    assert error_fields(assert_problem(refused, 422)) == {"query.cursor"}
    for query in ({"cursor": ""}, {"cursor": "", "limit": 2, "status": "filled"}):
        # An empty cursor is the first page, as on every other list (it was a 500: the
        # query for a page after a cursor, run without one).
        first = await client.get(V1, params=query, headers=alice.headers)
        assert first.status_code == 200, first.text
        without = {key: value for key, value in query.items() if key != "cursor"}
        assert first.json() == (await client.get(V1, params=without, headers=alice.headers)).json()
