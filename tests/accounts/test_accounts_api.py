"""The accounts API on the sandbox institution: link, read, page, sync, unlink; secrets sealed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from flint.accounts import service
from flint.accounts.api import Accounts
from flint.accounts.models import AccountLink, AccountTransaction, LinkedAccount
from flint.brokerage.types import OrderAction, OrderRequest
from flint.db import commit
from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/accounts"


async def link(client: httpx.AsyncClient, who: Account, code: str = "demo-code") -> httpx.Response:
    return await client.post(
        f"{V1}/link", json={"provider": "sandbox", "authCode": code}, headers=who.headers
    )


async def linked(
    client: httpx.AsyncClient, who: Account, code: str = "demo-code"
) -> dict[str, Any]:
    response = await link(client, who, code)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def by_type(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {account["type"]: account for account in body["accounts"]}


@dataclass
class Brokerage:
    """The sandbox's brokerage account as linked, and what Flint holds to act on it there."""

    account: LinkedAccount
    credentials: dict[str, Any]
    sandbox: Any
    ctx: Accounts


async def linked_brokerage(app: FastAPI, client: httpx.AsyncClient, who: Account) -> Brokerage:
    """The sandbox linked (always open: a market order fills whatever the hour the test runs
    at), its brokerage account and the link's credentials, opened."""
    accounts = by_type(await linked(client, who, "demo-code:always-open"))
    ctx = app.state.runtime.get(Accounts)
    async with app.state.runtime.sessions() as session:
        account = await session.get(LinkedAccount, uuid.UUID(accounts["brokerage"]["accountId"]))
        assert account is not None
        record = await session.get(AccountLink, account.link_id)
        assert record is not None
        assert record.sealed_credentials
    credentials = ctx.box.open(record.sealed_credentials)
    return Brokerage(account, credentials, ctx.providers.get("sandbox"), ctx)


async def test_linking_the_sandbox_creates_a_brokerage_a_checking_and_a_savings_account(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = await linked(client, alice)
    accounts = by_type(body)
    assert body["provider"] == "sandbox"
    assert body["linked"] is True
    assert set(accounts) == {"brokerage", "checking", "savings"}
    assert body["accountId"] == accounts["brokerage"]["accountId"]
    brokerage = accounts["brokerage"]
    assert brokerage["canTrade"] is True
    assert brokerage["balances"]["cash"] == "100000.00"
    assert brokerage["balances"]["buyingPower"] == "100000.00"
    assert Decimal(brokerage["balances"]["current"]) > 100000  # cash plus the positions
    assert brokerage["lastSyncedAt"] is not None

    listed = (await client.get(V1, headers=alice.headers)).json()["accounts"]
    assert sorted(a["accountId"] for a in listed) == sorted(
        a["accountId"] for a in body["accounts"]
    )
    profile = (await client.get(f"/api/v1/users/{alice.user_id}", headers=alice.headers)).json()
    assert {a["accountId"] for a in profile["accounts"]} == {a["accountId"] for a in listed}


async def test_an_account_shows_holdings_priced_and_a_year_of_transactions_paged(
    client: httpx.AsyncClient, alice: Account
) -> None:
    accounts = by_type(await linked(client, alice))
    brokerage = (
        await client.get(f"{V1}/{accounts['brokerage']['accountId']}", headers=alice.headers)
    ).json()
    assert brokerage["holdings"]
    for holding in brokerage["holdings"]:
        value, quantity, price = (Decimal(holding[k]) for k in ("value", "quantity", "price"))
        assert value == quantity * price

    checking_id = accounts["checking"]["accountId"]
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 37} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get(f"{V1}/{checking_id}", params=params, headers=alice.headers)
        ).json()
        seen += page["transactions"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    ids = [t["transactionId"] for t in seen]
    assert len(ids) == len(set(ids)) > 100  # a year of salary, rent and card spending
    dates = [t["date"] for t in seen]
    assert dates == sorted(dates, reverse=True)
    assert dates[0] > dates[-1]
    assert any(Decimal(t["amount"]) > 0 for t in seen)
    assert any(Decimal(t["amount"]) < 0 for t in seen)


async def test_a_bad_cursor_or_limit_is_a_422(client: httpx.AsyncClient, alice: Account) -> None:
    account_id = (await linked(client, alice))["accountId"]
    bad = await client.get(f"{V1}/{account_id}", params={"cursor": "%%%"}, headers=alice.headers)
    assert "query.cursor" in error_fields(assert_problem(bad, 422))
    too_many = await client.get(f"{V1}/{account_id}", params={"limit": 0}, headers=alice.headers)
    assert_problem(too_many, 422)


async def test_unknown_unconfigured_or_refused_links_are_422_and_store_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    cases = [
        ({"provider": "plaid", "authCode": "x"}, "body.provider", "Unknown provider"),
        ({"provider": "snaptrade", "authCode": "x"}, "body.provider", "not configured"),
        ({"provider": "sandbox", "authCode": ""}, "body.authCode", None),
        ({"provider": "sandbox", "authCode": "refuse-me"}, "body.authCode", "refused"),
        ({"provider": "sandbox"}, "body.authCode", None),
    ]
    for body, field, words in cases:
        response = await client.post(f"{V1}/link", json=body, headers=alice.headers)
        problem = assert_problem(response, 422)
        assert field in error_fields(problem), (body, problem)
        if words:
            assert words in problem["detail"], problem
    async with app.state.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AccountLink)) == 0


async def test_linking_the_same_code_again_keeps_one_copy_of_each_account(
    client: httpx.AsyncClient, alice: Account
) -> None:
    first = await linked(client, alice)
    again = await linked(client, alice)
    assert sorted(a["accountId"] for a in again["accounts"]) == sorted(
        a["accountId"] for a in first["accounts"]
    )
    assert len((await client.get(V1, headers=alice.headers)).json()["accounts"]) == 3


async def test_another_users_account_is_404_everywhere(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    account_id = (await linked(client, alice))["accountId"]
    assert_problem(await client.get(f"{V1}/{account_id}", headers=bob.headers), 404)
    assert_problem(await client.post(f"{V1}/{account_id}/sync", headers=bob.headers), 404)
    assert_problem(await client.delete(f"{V1}/{account_id}", headers=bob.headers), 404)
    assert (await client.get(V1, headers=bob.headers)).json() == {"accounts": []}
    assert_problem(await client.get(f"{V1}/{uuid.uuid4()}", headers=alice.headers), 404)
    assert_problem(await client.get(V1), 401)


async def test_credentials_are_sealed_and_never_returned(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    code = "secret-code-" + uuid.uuid4().hex
    response = await link(client, alice, code)
    assert response.status_code == 201
    texts = [response.text, (await client.get(V1, headers=alice.headers)).text]
    texts.append(
        (await client.get(f"{V1}/{response.json()['accountId']}", headers=alice.headers)).text
    )
    assert not any(code in text for text in texts)
    async with app.state.runtime.sessions() as session:
        record = (await session.execute(select(AccountLink))).scalar_one()
    assert record.sealed_credentials is not None
    assert code not in record.sealed_credentials
    assert app.state.runtime.get(Accounts).box.open(record.sealed_credentials) == {"code": code}


async def test_a_sync_brings_the_institutions_changes(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    brokerage = await linked_brokerage(app, client, alice)
    account = brokerage.account
    order = OrderRequest(
        account_id=account.provider_account_id,
        client_order_id=str(uuid.uuid4()),
        symbol="MSFT",
        action=OrderAction.BUY,
        quantity=Decimal("2"),
    )
    filled = await brokerage.sandbox.place_order({}, brokerage.credentials, order)
    assert filled.average_price is not None
    async with app.state.runtime.sessions() as session:
        assert await service.sync_link(session, brokerage.ctx, account.link_id) == 3
        await commit(session)

    after = (await client.get(f"{V1}/{account.id}", headers=alice.headers)).json()
    cost = Decimal(2) * filled.average_price
    assert Decimal(str(after["balances"]["cash"])) == Decimal(100000) - cost.quantize(
        Decimal("0.01")
    )
    assert any(h["symbol"] == "MSFT" for h in after["holdings"])
    assert any(t["symbol"] == "MSFT" and t["type"] == "buy" for t in after["transactions"])


async def test_sync_is_queued_with_202(client: httpx.AsyncClient, alice: Account) -> None:
    account_id = (await linked(client, alice))["accountId"]
    response = await client.post(f"{V1}/{account_id}/sync", headers=alice.headers)
    assert response.status_code == 202
    assert response.json() == {"accountId": account_id, "queued": True}


async def test_unlinking_forgets_credentials_and_data_but_keeps_the_account_row(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    body = await linked(client, alice)
    account_id = body["accountId"]
    assert (await client.delete(f"{V1}/{account_id}", headers=alice.headers)).status_code == 204
    assert (await client.get(V1, headers=alice.headers)).json() == {"accounts": []}
    for account in body["accounts"]:
        assert_problem(await client.get(f"{V1}/{account['accountId']}", headers=alice.headers), 404)
    assert_problem(await client.delete(f"{V1}/{account_id}", headers=alice.headers), 404)
    async with app.state.runtime.sessions() as session:
        record = (await session.execute(select(AccountLink))).scalar_one()
        assert record.status == "unlinked"
        assert record.sealed_credentials is None
        assert await session.scalar(select(func.count()).select_from(AccountTransaction)) == 0
        assert await session.scalar(select(func.count()).select_from(LinkedAccount)) == 3
