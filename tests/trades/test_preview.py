"""Trade previews through the sandbox broker, with a real worker: the estimate (money as
decimal strings), executing exactly the previewed trade once, expiry, other users, idempotency
and concurrent executes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from flint.idempotency import KEEP_FOR, IdempotencyKey
from flint.kit.time import utcnow
from flint.trades.models import Trade
from flint.trades.preview_store import TradePreview
from tests.conftest import Account, assert_problem, error_fields
from tests.trades.conftest import link_sandbox

V1 = "/api/v1/trades"
FIELDS = {
    "previewId",
    "estimatedPrice",
    "estimatedValue",
    "commission",
    "buyingPowerAfter",
    "warnings",
    "expiresAt",
}


def order(account_id: str, **fields: Any) -> dict[str, Any]:
    return {"accountId": account_id, "asset": "AAPL", "action": "buy", "quantity": "2"} | fields


async def count(app: FastAPI, table: Any) -> int:
    async with app.state.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def brokerage(client: httpx.AsyncClient, who: Account, code: str) -> str:
    accounts = (await link_sandbox(client, who, code))["accounts"]
    return str(next(a["accountId"] for a in accounts if a["type"] == "brokerage"))


@pytest.mark.usefixtures("worker")
async def test_a_preview_estimates_the_trade_and_execute_places_exactly_it_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = await brokerage(client, alice, "cash-25000")
    previewed = await client.post(f"{V1}/preview", json=order(account_id), headers=alice.headers)
    assert previewed.status_code == 201, previewed.text
    preview = previewed.json()
    assert set(preview) == FIELDS
    for money in ("estimatedPrice", "estimatedValue", "commission", "buyingPowerAfter"):
        assert isinstance(preview[money], str), money  # decimal strings, every digit kept
    price, value = Decimal(preview["estimatedPrice"]), Decimal(preview["estimatedValue"])
    assert price > 0
    assert value == (2 * price).quantize(Decimal("0.01"))
    assert preview["commission"] == "0.00"
    assert Decimal(preview["buyingPowerAfter"]) == Decimal("25000.00") - value
    assert preview["warnings"] == []
    assert await count(app, Trade) == 0  # a preview places nothing

    executed = await client.post(
        f"{V1}/execute", json={"previewId": preview["previewId"]}, headers=alice.headers
    )
    assert executed.status_code == 201, executed.text
    trade = executed.json()
    assert (trade["accountId"], trade["asset"], trade["action"]) == (account_id, "AAPL", "buy")
    assert (trade["orderType"], trade["timeInForce"]) == ("market", "day")
    assert trade["status"] == "filled"
    assert Decimal(str(trade["filledQuantity"])) == 2

    again = await client.post(
        f"{V1}/execute", json={"previewId": preview["previewId"]}, headers=alice.headers
    )
    assert trade["tradeId"] in assert_problem(again, 409)["detail"]
    assert await count(app, Trade) == 1


@pytest.mark.usefixtures("worker")
async def test_a_limit_preview_says_it_would_rest_and_executes_as_that_limit(
    client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = await brokerage(client, alice, "cash-25000")
    body = order(account_id, orderType="limit", limitPrice="1", timeInForce="gtc")
    preview = (await client.post(f"{V1}/preview", json=body, headers=alice.headers)).json()
    assert (preview["estimatedPrice"], preview["estimatedValue"]) == ("1.00", "2.00")
    assert preview["buyingPowerAfter"] == "24998.00"
    assert len(preview["warnings"]) == 1
    assert "limit 1 is not reached" in preview["warnings"][0]
    placed = await client.post(
        f"{V1}/execute", json={"previewId": preview["previewId"]}, headers=alice.headers
    )
    assert placed.status_code == 202, placed.text
    trade = placed.json()
    assert (trade["status"], trade["orderType"], trade["limitPrice"]) == ("submitted", "limit", "1")


@pytest.mark.usefixtures("worker")
async def test_a_sale_is_previewed_with_the_cash_it_brings(
    client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = await brokerage(client, alice, "cash-25000")
    bought = await client.post(f"{V1}/execute", json=order(account_id), headers=alice.headers)
    assert bought.json()["status"] == "filled"
    cash = Decimal("25000.00") - (Decimal(str(bought.json()["averagePrice"])) * 2).quantize(
        Decimal("0.01")
    )
    body = order(account_id, action="sell", quantity="1.5")
    preview = (await client.post(f"{V1}/preview", json=body, headers=alice.headers)).json()
    value = Decimal(preview["estimatedValue"])
    assert value == (Decimal("1.5") * Decimal(preview["estimatedPrice"])).quantize(Decimal("0.01"))
    assert Decimal(preview["buyingPowerAfter"]) == cash + value


@pytest.mark.usefixtures("worker")
async def test_executing_a_preview_checks_again_and_a_refusal_leaves_it_unused(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    probing = await brokerage(client, alice, "cash-100000")
    probe = await client.post(
        f"{V1}/preview", json=order(probing, quantity="1"), headers=alice.headers
    )
    price = Decimal(probe.json()["estimatedPrice"])
    # An account whose cash buys one share, not two, at today's simulated price.
    account_id = await brokerage(client, alice, f"cash-{int(price * 3 / 2)}")
    body = order(account_id, quantity="1")
    preview = (await client.post(f"{V1}/preview", json=body, headers=alice.headers)).json()
    # The cash goes elsewhere before the preview is executed.
    spent = await client.post(f"{V1}/execute", json=body, headers=alice.headers)
    assert spent.json()["status"] == "filled"
    refused = await client.post(
        f"{V1}/execute", json={"previewId": preview["previewId"]}, headers=alice.headers
    )
    assert_problem(refused, 422)
    assert await count(app, Trade) == 1
    async with app.state.runtime.sessions() as session:
        kept = await session.get(TradePreview, uuid.UUID(preview["previewId"]))
    assert kept is not None
    assert kept.trade_id is None  # nothing changed: it can still be executed once cash is back


async def test_previews_refuse_what_execute_refuses_and_store_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    accounts = (await link_sandbox(client, alice, "cash-1000"))["accounts"]
    broker = next(a["accountId"] for a in accounts if a["type"] == "brokerage")
    bank = next(a["accountId"] for a in accounts if a["type"] == "checking")
    cases: list[tuple[dict[str, Any], str]] = [
        (order(bank), "body.accountId"),  # banks do not trade
        (order(broker, asset="NOSUCHCO"), "body.asset"),
        (order(broker, quantity="1000"), "body.quantity"),  # $1,000 of cash
        (order(broker, action="sell", asset="TSLA", quantity="1"), "body.quantity"),
        (order(broker, quantity="0"), "body.quantity"),
        (order(broker, orderType="limit"), "body"),
        (order(broker, previewId=str(uuid.uuid4())), "body.previewId"),
    ]
    for body, field in cases:
        response = await client.post(f"{V1}/preview", json=body, headers=alice.headers)
        problem = assert_problem(response, 422)
        assert any(name.startswith(field) for name in error_fields(problem)), (body, problem)
    assert await count(app, TradePreview) == 0


async def test_execute_names_the_bad_fields_of_an_order_or_a_preview_id(
    client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"previewId": "not-a-uuid"}, "body.previewId"),
        ({"previewId": str(uuid.uuid4()), "asset": "AAPL"}, "body.asset"),
        (order(account_id, quantity="-1"), "body.quantity"),
        ({"asset": "AAPL"}, "body.accountId"),
    ]
    for body, field in cases:
        response = await client.post(f"{V1}/execute", json=body, headers=alice.headers)
        assert field in error_fields(assert_problem(response, 422)), (body, response.text)


@pytest.mark.usefixtures("worker")
async def test_another_users_or_an_unknown_preview_is_404(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    preview = (
        await client.post(f"{V1}/preview", json=order(account_id), headers=alice.headers)
    ).json()
    stolen = await client.post(
        f"{V1}/execute", json={"previewId": preview["previewId"]}, headers=bob.headers
    )
    assert_problem(stolen, 404)
    unknown = await client.post(
        f"{V1}/execute", json={"previewId": str(uuid.uuid4())}, headers=alice.headers
    )
    assert_problem(unknown, 404)
    assert await count(app, Trade) == 0
    own = await client.post(
        f"{V1}/execute", json={"previewId": preview["previewId"]}, headers=alice.headers
    )
    assert own.status_code == 201, own.text


async def test_an_expired_preview_is_a_clear_problem_and_places_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    preview = (
        await client.post(f"{V1}/preview", json=order(account_id), headers=alice.headers)
    ).json()
    expires = preview["expiresAt"]
    assert timedelta(minutes=4) < _parse(expires) - utcnow() <= timedelta(minutes=5)
    async with app.state.runtime.sessions() as session:
        await session.execute(
            update(TradePreview).values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    late = await client.post(
        f"{V1}/execute", json={"previewId": preview["previewId"]}, headers=alice.headers
    )
    problem = assert_problem(late, 422)
    assert "expired" in problem["detail"]
    assert "preview the trade again" in problem["detail"]
    assert error_fields(problem) == {"body.previewId"}
    assert await count(app, Trade) == 0


async def test_previews_long_expired_and_never_executed_are_forgotten(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    old = (await client.post(f"{V1}/preview", json=order(account_id), headers=alice.headers)).json()
    async with app.state.runtime.sessions() as session:
        await session.execute(update(TradePreview).values(expires_at=utcnow() - timedelta(days=2)))
        await session.commit()
    bobs = (await link_sandbox(client, bob, "bob"))["accountId"]
    await client.post(f"{V1}/preview", json=order(bobs), headers=bob.headers)
    assert await count(app, TradePreview) == 2  # only the user's own previews are tidied
    await client.post(f"{V1}/preview", json=order(account_id), headers=alice.headers)
    assert await count(app, TradePreview) == 2
    gone = await client.post(
        f"{V1}/execute", json={"previewId": old["previewId"]}, headers=alice.headers
    )
    assert_problem(gone, 404)


@pytest.mark.usefixtures("worker")
async def test_idempotency_keys_replay_the_preview_and_the_execute(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    headers = alice.headers | {"Idempotency-Key": "preview-" + uuid.uuid4().hex}
    first = await client.post(f"{V1}/preview", json=order(account_id), headers=headers)
    again = await client.post(f"{V1}/preview", json=order(account_id), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(app, TradePreview) == 1
    other = await client.post(
        f"{V1}/preview", json=order(account_id, quantity="3"), headers=headers
    )
    assert "header.Idempotency-Key" in error_fields(assert_problem(other, 422))

    body = {"previewId": first.json()["previewId"]}
    execute_headers = alice.headers | {"Idempotency-Key": "execute-" + uuid.uuid4().hex}
    placed = await client.post(f"{V1}/execute", json=body, headers=execute_headers)
    replayed = await client.post(f"{V1}/execute", json=body, headers=execute_headers)
    assert placed.status_code == replayed.status_code == 201, placed.text
    assert replayed.json() == placed.json()
    assert replayed.headers["idempotent-replayed"] == "true"
    assert await count(app, Trade) == 1


async def test_a_users_keys_past_a_day_are_deleted_when_the_user_claims_another(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    """Each key holds a whole answer; none was deleted unless the same key came again."""
    accounts = {who.user_id: (await link_sandbox(client, who))["accountId"] for who in (alice, bob)}

    async def preview(who: Account, key: str) -> None:
        headers = who.headers | {"Idempotency-Key": key}
        sent = await client.post(
            f"{V1}/preview", json=order(accounts[who.user_id]), headers=headers
        )
        assert sent.status_code == 201, sent.text

    await preview(alice, "alice-old")
    await preview(bob, "bob-old")
    async with app.state.runtime.sessions.begin() as session:
        await session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - KEEP_FOR - timedelta(minutes=1))
        )
    await preview(alice, "alice-new")

    async with app.state.runtime.sessions() as session:
        kept = set(await session.scalars(select(IdempotencyKey.key)))
    assert kept == {"alice-new", "bob-old"}  # Bob's goes when Bob claims one


@pytest.mark.usefixtures("worker")
async def test_concurrent_executes_of_one_preview_make_one_trade(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = (await link_sandbox(client, alice))["accountId"]
    preview = (
        await client.post(f"{V1}/preview", json=order(account_id), headers=alice.headers)
    ).json()
    body = {"previewId": preview["previewId"]}
    answers = await asyncio.gather(
        *(client.post(f"{V1}/execute", json=body, headers=alice.headers) for _ in range(20))
    )
    assert sorted({a.status_code for a in answers}) in ([201, 409], [202, 409])
    assert len([a for a in answers if a.status_code in (201, 202)]) == 1
    assert await count(app, Trade) == 1


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_preview_counts_the_links_commission_and_says_when_the_market_is_closed(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `fees-1` link charges 1.00 an order: the preview shows it and leaves that much less
    buying power. Outside the session the order would wait for the open, and says so."""
    account_id = await brokerage(client, alice, "cash-25000:fees-1")
    previewed = await client.post(f"{V1}/preview", json=order(account_id), headers=alice.headers)
    assert previewed.status_code == 201, previewed.text
    preview = previewed.json()
    value = Decimal(preview["estimatedValue"])
    assert preview["commission"] == "1.00"
    assert Decimal(preview["buyingPowerAfter"]) == Decimal("25000.00") - value - 1

    hours = (await link_sandbox(client, alice, "cash-9000", always_open=False))["accounts"]
    closed_account = next(a["accountId"] for a in hours if a["type"] == "brokerage")
    saturday = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
    monkeypatch.setattr("flint.brokerage.sandbox.provider.utcnow", lambda: saturday)
    waiting = await client.post(f"{V1}/preview", json=order(closed_account), headers=alice.headers)
    assert waiting.status_code == 201, waiting.text
    warnings = waiting.json()["warnings"]
    assert any("market is closed" in warning and "2026-12-07" in warning for warning in warnings)
