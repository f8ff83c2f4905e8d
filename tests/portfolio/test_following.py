"""A portfolio that follows a linked brokerage account (the sandbox institution): its ledger
mirrors the account's activities and ends at the broker's holdings; re-syncs change nothing,
new trades arrive once, unfollowing and unlinking keep the ledger, and refusals change nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, insert, select, update

from flint.accounts import service as accounts
from flint.accounts.api import Accounts
from flint.accounts.models import (
    AccountHolding,
    AccountLink,
    AccountTransaction,
    LinkedAccount,
)
from flint.brokerage.sandbox import store
from flint.brokerage.types import OrderAction, OrderRequest
from flint.db import commit, create_engine
from flint.kit.time import utcnow
from flint.market.api import MarketData
from flint.portfolio import following
from flint.portfolio.models import Portfolio, PortfolioTransaction
from tests.conftest import Account, assert_problem, error_fields
from tests.trades.conftest import link_sandbox
from tests.trades.conftest import worker as worker  # the real Celery worker fixture

V1 = "/api/v1/portfolio"
ACCOUNTS = "/api/v1/accounts"


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


async def brokerage_of(client: httpx.AsyncClient, who: Account, code: str = "follower") -> str:
    linked = await link_sandbox(client, who, code)
    return next(a["accountId"] for a in linked["accounts"] if a["type"] == "brokerage")


async def account_detail(
    client: httpx.AsyncClient, who: Account, account_id: str
) -> dict[str, Any]:
    response = await client.get(
        f"{ACCOUNTS}/{account_id}", params={"limit": 500}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["nextCursor"] is None
    return body


async def follow_new(
    client: httpx.AsyncClient, who: Account, account_id: str, **extra: Any
) -> dict[str, Any]:
    body = {"name": "Mirror", "accountId": account_id} | extra
    response = await client.post(f"{V1}/", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def ledger(
    client: httpx.AsyncClient, who: Account, portfolio_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"{V1}/{portfolio_id}/transactions", headers=who.headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["transactions"]
    return rows


async def portfolio(client: httpx.AsyncClient, who: Account, portfolio_id: str) -> dict[str, Any]:
    response = await client.get(f"{V1}/{portfolio_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def positions(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Replay the ledger (it comes in ledger order): units held per symbol at the end."""
    held: dict[str, Decimal] = {}
    for row in rows:
        if row["type"] in ("buy", "sell"):
            step = dec(row["quantity"]) * (1 if row["type"] == "buy" else -1)
            held[row["symbol"]] = held.get(row["symbol"], Decimal(0)) + step
            assert held[row["symbol"]] >= 0, f"the ledger sells {row['symbol']} it does not hold"
    return {symbol: units for symbol, units in held.items() if units}


def holdings(detail: dict[str, Any]) -> dict[str, Decimal]:
    return {h["symbol"]: dec(h["quantity"]) for h in detail["holdings"]}


async def sync(app: FastAPI, account_id: str) -> None:
    """What the accounts task does: sync the account's link from the institution, commit."""
    async with app.state.runtime.sessions() as session:
        account = await session.get(LinkedAccount, uuid.UUID(account_id))
        assert account is not None
        await accounts.sync_link(session, app.state.runtime.get(Accounts), account.link_id)
        await commit(session)


async def sandbox_trade(app: FastAPI, account_id: str, symbol: str, quantity: str) -> None:
    """A trade at the sandbox institution itself (not through Flint's trades feature)."""
    ctx = app.state.runtime.get(Accounts)
    async with app.state.runtime.sessions() as session:
        account = await session.get(LinkedAccount, uuid.UUID(account_id))
        assert account is not None
        link = await session.get(AccountLink, account.link_id)
        assert link is not None
        provider, identity, credentials = await accounts.credentials_for(session, ctx, link)
        await provider.place_order(
            identity,
            credentials,
            OrderRequest(
                account.provider_account_id,
                uuid.uuid4().hex,
                symbol,
                OrderAction.BUY,
                Decimal(quantity),
            ),
        )


async def test_a_following_portfolio_mirrors_the_accounts_activity_and_ends_at_its_holdings(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, settings: Any
) -> None:
    account_id = await brokerage_of(client, alice)
    detail = await account_detail(client, alice, account_id)
    # The institution pays a dividend on one of the positions.
    paid_on = min(holdings(detail))
    engine = create_engine(settings.resolved_sandbox_database_url)
    async with engine.begin() as conn:
        await conn.execute(
            insert(store.transactions).values(
                id="div-1",
                account_id=await _provider_account_id(app, account_id),
                seq=10_000,
                date=utcnow().date() - timedelta(days=2),
                amount=Decimal("12.34"),
                description=f"Dividend {paid_on}",
                status="posted",
                category="income",
                type="dividend",
                symbol=paid_on,
            )
        )
    await engine.dispose()
    await sync(app, account_id)
    created = await follow_new(client, alice, account_id)
    assert created["accountId"] == account_id
    assert created["lastSyncedAt"] is not None
    detail = await account_detail(client, alice, account_id)

    rows = await ledger(client, alice, created["portfolioId"])
    assert positions(rows) == holdings(detail)
    assert all(row["sourceTransactionId"].startswith(account_id + "/") for row in rows)
    trades = sorted(
        (t["date"], t["type"], t["symbol"], dec(t["quantity"]), dec(t["price"]))
        for t in detail["transactions"]
        if t["type"] in ("buy", "sell")
    )
    assert trades  # the sandbox bought the positions during the year
    assert (
        sorted(
            (r["date"], r["type"], r["symbol"], dec(r["quantity"]), dec(r["price"]))
            for r in rows
            if r["type"] in ("buy", "sell")
        )
        == trades
    )
    cash = sorted(
        (t["date"], t["type"], abs(dec(t["amount"])))
        for t in detail["transactions"]
        if t["type"] in ("deposit", "dividend")
    )
    assert len(cash) == 2  # the opening deposit and the dividend
    assert (
        sorted(
            (r["date"], r["type"], dec(r["amount"]))
            for r in rows
            if r["type"] in ("deposit", "dividend")
        )
        == cash
    )
    (dividend,) = [r for r in rows if r["type"] == "dividend"]
    assert (dividend["symbol"], dividend["sourceTransactionId"]) == (paid_on, f"{account_id}/div-1")
    # The lots are the mirrored buys, each marked with its source.
    assert sorted(a["sourceTransactionId"] for a in created["assets"]) == sorted(
        r["sourceTransactionId"] for r in rows if r["type"] == "buy"
    )
    assert created["syncReport"]["mirrored"] == len(rows)
    assert created["syncReport"]["added"] == len(rows)

    # A second sync of the account changes nothing.
    before = await portfolio(client, alice, created["portfolioId"])
    await sync(app, account_id)
    after = await portfolio(client, alice, created["portfolioId"])
    assert await ledger(client, alice, created["portfolioId"]) == rows
    assert after["version"] == before["version"]
    assert after["lastSyncedAt"] > before["lastSyncedAt"]
    assert after["syncReport"] | {"mirrored": 0} == {
        "mirrored": 0,
        "added": 0,
        "updated": 0,
        "removed": 0,
        "skipped": 0,
        "notes": [],
    }


async def wait_for(check: Any, seconds: float = 15) -> Any:
    for _ in range(int(seconds * 10)):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.usefixtures("worker")
async def test_a_trade_through_flint_arrives_in_the_ledger_once_and_performance_follows(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = await brokerage_of(client, alice)
    created = await follow_new(client, alice, account_id)
    portfolio_id = created["portfolioId"]
    first = await ledger(client, alice, portfolio_id)

    # The test's worker runs one job at a time, and the link's and the follow's syncs come
    # first: on a busy machine they took longer than the 5 s an answer waits (a 202).
    app.state.runtime.settings.trade_wait_seconds = 30
    trade = await client.post(
        "/api/v1/trades/execute",
        json={"accountId": account_id, "asset": "KO", "action": "buy", "quantity": "3"},
        headers=alice.headers,
    )
    assert trade.status_code == 201, trade.text
    filled = trade.json()
    assert filled["status"] == "filled"

    # The fill re-syncs the account in the background, and the sync mirrors it.
    async def mirrored() -> list[dict[str, Any]]:
        rows = await ledger(client, alice, portfolio_id)
        return [r for r in rows if r["symbol"] == "KO"]

    (ko,) = await wait_for(mirrored)
    assert (ko["type"], dec(ko["quantity"]), dec(ko["price"])) == (
        "buy",
        Decimal(3),
        dec(filled["averagePrice"]),
    )
    assert ko["sourceTransactionId"] == f"{account_id}/{filled['providerOrderId']}_fill"
    version = (await portfolio(client, alice, portfolio_id))["version"]
    assert version > created["version"]

    # Another sync, through the API and the worker: still one row for the trade.
    synced_before = (await portfolio(client, alice, portfolio_id))["lastSyncedAt"]
    queued = await client.post(f"{ACCOUNTS}/{account_id}/sync", headers=alice.headers)
    assert queued.status_code == 202

    async def resynced() -> bool:
        return bool((await portfolio(client, alice, portfolio_id))["lastSyncedAt"] > synced_before)

    await wait_for(resynced)
    rows = await ledger(client, alice, portfolio_id)
    assert rows == [*first, ko]
    assert (await portfolio(client, alice, portfolio_id))["version"] == version
    detail = await account_detail(client, alice, account_id)
    assert positions(rows) == holdings(detail)

    # Performance of the followed portfolio: the broker's positions at the last closes, and
    # the broker's cash (to the cent per trade: the broker rounds each trade's cash).
    response = await client.get(f"{V1}/{portfolio_id}/performance", headers=alice.headers)
    assert response.status_code == 200, response.text
    perf = response.json()
    today = utcnow().date()
    assert {h["symbol"]: dec(h["quantity"]) for h in perf["holdings"]} == holdings(detail)
    for held in perf["holdings"]:
        bars = (
            await client.get(
                f"/api/v1/market/historical/{held['symbol']}",
                params={
                    "start": (today - timedelta(days=10)).isoformat(),
                    "end": today.isoformat(),
                },
                headers=alice.headers,
            )
        ).json()["bars"]
        last_close = Decimal(str(bars[-1]["close"]))
        assert Decimal(held["price"]) == last_close
        worth = Decimal(held["quantity"]) * last_close
        assert held["value"] == str(worth.quantize(Decimal("0.01")))
    cash = Decimal(next(a["value"] for a in perf["allocation"] if a["assetClass"] == "cash"))
    trades_count = sum(1 for r in rows if r["type"] in ("buy", "sell"))
    assert abs(cash - Decimal(str(detail["balances"]["cash"]))) <= Decimal("0.005") * trades_count
    # Exact money: the total is the sum of its parts to the cent.
    assert Decimal(perf["marketValue"]) == sum(Decimal(h["value"]) for h in perf["holdings"]) + cash


async def test_unfollowing_keeps_the_ledger_and_stops_the_updates(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = await brokerage_of(client, alice)
    created = await follow_new(client, alice, account_id)
    portfolio_id = created["portfolioId"]
    rows = await ledger(client, alice, portfolio_id)

    stopped = await client.delete(f"{V1}/{portfolio_id}/follow", headers=alice.headers)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["accountId"] is None
    assert stopped.json()["version"] == created["version"]
    await sandbox_trade(app, account_id, "KO", "2")
    await sync(app, account_id)
    assert "KO" in holdings(await account_detail(client, alice, account_id))
    assert await ledger(client, alice, portfolio_id) == rows
    assert (await portfolio(client, alice, portfolio_id))["version"] == created["version"]

    # Following again picks up where it left off: the trade, once, and nothing doubled.
    again = await client.put(
        f"{V1}/{portfolio_id}/follow", json={"accountId": account_id}, headers=alice.headers
    )
    assert again.status_code == 200, again.text
    assert again.json()["accountId"] == account_id
    assert again.json()["syncReport"]["added"] == 1
    after = await ledger(client, alice, portfolio_id)
    assert after[: len(rows)] == rows
    assert [(r["type"], r["symbol"], r["quantity"]) for r in after[len(rows) :]] == [
        ("buy", "KO", "2")
    ]


async def test_mirrored_lots_sent_back_with_their_ids_are_left_as_the_sync_made_them(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """A following portfolio read and sent back renamed, every lot as read: the mirrored ones
    (only the sync changes them) were added again as lots entered by hand, doubling them."""
    account_id = await brokerage_of(client, alice)
    created = await follow_new(client, alice, account_id)
    portfolio_id = created["portfolioId"]
    read = await portfolio(client, alice, portfolio_id)
    assert read["assets"]
    assert all(a["sourceTransactionId"] for a in read["assets"])
    rows = await ledger(client, alice, portfolio_id)

    lots = [{k: v for k, v in lot.items() if k != "sourceTransactionId"} for lot in read["assets"]]
    body = {"name": "Renamed", "baseCurrency": read["baseCurrency"], "assets": lots}
    renamed = await client.put(f"{V1}/{portfolio_id}", json=body, headers=alice.headers)

    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["assets"] == read["assets"]
    assert await ledger(client, alice, portfolio_id) == rows


async def test_unlinking_the_account_stops_the_following_and_keeps_the_ledger(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = await brokerage_of(client, alice)
    created = await follow_new(client, alice, account_id)
    rows = await ledger(client, alice, created["portfolioId"])

    unlinked = await client.delete(f"{ACCOUNTS}/{account_id}", headers=alice.headers)
    assert unlinked.status_code == 204
    after = await portfolio(client, alice, created["portfolioId"])
    assert after["accountId"] is None
    assert await ledger(client, alice, created["portfolioId"]) == rows
    listed = (await client.get(f"{V1}/", headers=alice.headers)).json()["portfolios"]
    assert [(p["portfolioId"], p["accountId"]) for p in listed] == [(created["portfolioId"], None)]

    # An unlinked account cannot be followed again (it must be linked anew).
    refused = await client.put(
        f"{V1}/{created['portfolioId']}/follow",
        json={"accountId": account_id},
        headers=alice.headers,
    )
    assert error_fields(assert_problem(refused, 422)) == {"body.accountId"}


async def test_only_your_linked_brokerage_accounts_can_be_followed_and_refusals_change_nothing(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    linked = await link_sandbox(client, alice, "alice-code")
    by_type = {a["type"]: a["accountId"] for a in linked["accounts"]}
    bobs = await brokerage_of(client, bob, "bob-code")
    mine = await client.post(f"{V1}/", json={"name": "Plain"}, headers=alice.headers)
    plain = mine.json()["portfolioId"]

    for account_id, status, fields in [
        (bobs, 404, set()),
        (str(uuid.uuid4()), 404, set()),
        (by_type["checking"], 422, {"body.accountId"}),
        (by_type["savings"], 422, {"body.accountId"}),
        ("not-a-uuid", 422, {"body.accountId"}),
    ]:
        created = await client.post(
            f"{V1}/", json={"name": "Mirror", "accountId": account_id}, headers=alice.headers
        )
        body = assert_problem(created, status)
        assert error_fields(body) == fields
        followed = await client.put(
            f"{V1}/{plain}/follow", json={"accountId": account_id}, headers=alice.headers
        )
        assert error_fields(assert_problem(followed, status)) == fields

    listed = (await client.get(f"{V1}/", headers=alice.headers)).json()["portfolios"]
    assert [(p["portfolioId"], p["accountId"]) for p in listed] == [(plain, None)]
    assert await ledger(client, alice, plain) == []
    # A refused creation leaves nothing behind, even with valid lots beside the bad account.
    lots = [
        {"symbol": "AAPL", "quantity": "1", "purchasePrice": "100", "purchaseDate": "2024-03-01"}
    ]
    refused = await client.post(
        f"{V1}/",
        json={"name": "Mirror", "accountId": by_type["checking"], "assets": lots},
        headers=alice.headers,
    )
    assert_problem(refused, 422)
    assert len((await client.get(f"{V1}/", headers=alice.headers)).json()["portfolios"]) == 1

    # Someone else's portfolio is 404, whatever the account; so is following without an id.
    theirs = await client.put(f"{V1}/{plain}/follow", json={"accountId": bobs}, headers=bob.headers)
    assert_problem(theirs, 404)
    assert_problem(await client.delete(f"{V1}/{plain}/follow", headers=bob.headers), 404)
    missing = await client.put(f"{V1}/{plain}/follow", json={}, headers=alice.headers)
    assert error_fields(assert_problem(missing, 422)) == {"body.accountId"}


async def test_rows_entered_by_hand_stay_beside_the_mirrored_ones(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = await brokerage_of(client, alice)
    lot = {"symbol": "GOOGL", "quantity": "4", "purchasePrice": "120", "purchaseDate": "2024-03-01"}
    created = await follow_new(client, alice, account_id, assets=[lot])
    portfolio_id = created["portfolioId"]
    hand_lot = [a for a in created["assets"] if a["sourceTransactionId"] is None]
    assert [(a["symbol"], a["quantity"]) for a in hand_lot] == [("GOOGL", "4")]
    deposit = {"date": "2024-06-03", "type": "deposit", "amount": "250"}
    added = await client.post(
        f"{V1}/{portfolio_id}/transactions", json=deposit, headers=alice.headers
    )
    assert added.status_code == 201, added.text
    assert added.json()["sourceTransactionId"] is None
    rows = await ledger(client, alice, portfolio_id)

    await sync(app, account_id)
    assert await ledger(client, alice, portfolio_id) == rows

    # Replacing the lots replaces the hand-entered ones only; the mirrored lots stay.
    replaced = await client.put(
        f"{V1}/{portfolio_id}", json={"name": "Renamed", "assets": []}, headers=alice.headers
    )
    assert replaced.status_code == 200, replaced.text
    after = await ledger(client, alice, portfolio_id)
    assert after == [r for r in rows if r["symbol"] != "GOOGL"]
    assert positions(after) == holdings(await account_detail(client, alice, account_id))
    assert replaced.json()["accountId"] == account_id

    # One row at a time: the deposit entered here changes; a mirrored row is the sync's.
    [mine] = [r for r in after if r["sourceTransactionId"] is None]
    bigger = {"date": "2024-06-03", "type": "deposit", "amount": "300"}
    one = f"{V1}/{portfolio_id}/transactions"
    changed = await client.put(f"{one}/{mine['transactionId']}", json=bigger, headers=alice.headers)
    assert changed.status_code == 200, changed.text
    mirrored = next(r for r in after if r["sourceTransactionId"] is not None)
    for refused in (
        await client.put(f"{one}/{mirrored['transactionId']}", json=bigger, headers=alice.headers),
        await client.delete(f"{one}/{mirrored['transactionId']}", headers=alice.headers),
    ):
        assert "only the account's sync changes it" in assert_problem(refused, 409)["detail"]
    assert mirrored in await ledger(client, alice, portfolio_id)


async def close_on(client: httpx.AsyncClient, who: Account, symbol: str, day: date) -> Decimal:
    response = await client.get(
        f"/api/v1/market/historical/{symbol}",
        params={"start": (day - timedelta(days=10)).isoformat(), "end": day.isoformat()},
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    return dec(response.json()["bars"][-1]["close"])


async def test_holdings_the_history_does_not_explain_are_reconciled_once(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, settings: Any
) -> None:
    account_id = await brokerage_of(client, alice, "window")
    detail = await account_detail(client, alice, account_id)
    held = holdings(detail)
    first, *_, last = sorted(held)
    provider_id = await _provider_account_id(app, account_id)
    # At the institution: the history no longer reaches the buys of `first`, 7 GOOGL were
    # transferred in and `last` was transferred out.
    engine = create_engine(settings.resolved_sandbox_database_url)
    async with engine.begin() as conn:
        await conn.execute(
            delete(store.transactions).where(
                store.transactions.c.account_id == provider_id,
                store.transactions.c.symbol == first,
            )
        )
        await conn.execute(
            insert(store.positions).values(
                account_id=provider_id, symbol="GOOGL", quantity=Decimal(7), cost_basis=Decimal(840)
            )
        )
        await conn.execute(
            delete(store.positions).where(
                store.positions.c.account_id == provider_id, store.positions.c.symbol == last
            )
        )
    await engine.dispose()
    async with app.state.runtime.sessions() as session:  # what Flint has not seen yet
        await session.execute(
            delete(AccountTransaction).where(
                AccountTransaction.account_id == uuid.UUID(account_id),
                AccountTransaction.symbol == first,
            )
        )
        await session.commit()
    await sync(app, account_id)
    detail = await account_detail(client, alice, account_id)
    cost = {h["symbol"]: dec(h["costBasis"]) for h in detail["holdings"]}

    created = await follow_new(client, alice, account_id)
    rows = await ledger(client, alice, created["portfolioId"])
    assert positions(rows) == holdings(detail)
    start = min(t["date"] for t in detail["transactions"])
    reconciling = {
        r["sourceTransactionId"]: (
            r["date"],
            r["type"],
            r["symbol"],
            dec(r["quantity"]),
            dec(r["price"]),
        )
        for r in rows
        if "#" in r["sourceTransactionId"]
    }
    today = utcnow().date()
    assert reconciling == {
        f"{account_id}#opening:{first}": (
            start,
            "buy",
            first,
            held[first],
            (cost[first] / held[first]).quantize(Decimal("1e-8")),
        ),
        f"{account_id}#opening:GOOGL": (start, "buy", "GOOGL", Decimal(7), Decimal(120)),
        f"{account_id}#closing:{last}": (
            today.isoformat(),
            "sell",
            last,
            held[last],
            await close_on(client, alice, last, today),
        ),
    }
    # The openings come first on their day, before the opening deposit.
    assert [r["sourceTransactionId"] for r in rows[:2]] == sorted(
        [f"{account_id}#opening:{first}", f"{account_id}#opening:GOOGL"]
    )

    version = (await portfolio(client, alice, created["portfolioId"]))["version"]
    await sync(app, account_id)
    assert await ledger(client, alice, created["portfolioId"]) == rows
    assert (await portfolio(client, alice, created["portfolioId"]))["version"] == version


async def _provider_account_id(app: FastAPI, account_id: str) -> str:
    async with app.state.runtime.sessions() as session:
        account = await session.get(LinkedAccount, uuid.UUID(account_id))
        assert account is not None
        return account.provider_account_id


async def test_what_cannot_be_mirrored_is_skipped_with_a_note_and_the_rest_still_syncs(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    account_id = await brokerage_of(client, alice, "notes")
    detail = await account_detail(client, alice, account_id)
    held = holdings(detail)
    first = min(held)
    start = min(date.fromisoformat(t["date"]) for t in detail["transactions"])
    # The account as a provider without cost bases, with a symbol the market does not know,
    # card spending and a pending deposit would leave it.
    ident = uuid.UUID(account_id)
    async with app.state.runtime.sessions() as session:
        await session.execute(
            update(AccountHolding)
            .where(AccountHolding.account_id == ident, AccountHolding.symbol == first)
            .values(cost_basis=None)
        )
        await session.execute(
            delete(AccountTransaction).where(
                AccountTransaction.account_id == ident, AccountTransaction.symbol == first
            )
        )
        session.add(
            AccountHolding(account_id=ident, symbol="ZZZZ", quantity=Decimal(5), currency="USD")
        )
        extra = [
            ("z1", "buy", Decimal(-50), "ZZZZ", Decimal(5), Decimal(10), "posted"),
            ("c1", "card_payment", Decimal("-12.50"), None, None, None, "posted"),
            ("p1", "deposit", Decimal(500), None, None, None, "pending"),
        ]
        for ident_, kind, amount, symbol, quantity, price, status in extra:
            session.add(
                AccountTransaction(
                    account_id=ident,
                    provider_transaction_id=ident_,
                    date=utcnow().date(),
                    amount=amount,
                    currency="USD",
                    description=kind,
                    status=status,
                    type=kind,
                    symbol=symbol,
                    quantity=quantity,
                    price=price,
                )
            )
        await session.commit()

    created = await follow_new(client, alice, account_id)
    rows = await ledger(client, alice, created["portfolioId"])
    assert positions(rows) == held  # ZZZZ is not in the market data, so not mirrored
    (opening,) = [r for r in rows if r["sourceTransactionId"].endswith(f"#opening:{first}")]
    assert opening["date"] == start.isoformat()
    assert dec(opening["price"]) == await close_on(client, alice, first, start)
    assert not any(r["sourceTransactionId"].endswith(("/z1", "/c1", "/p1")) for r in rows)
    report = created["syncReport"]
    assert report["skipped"] == 3
    assert sorted(report["notes"]) == sorted(
        [
            "card_payment: not an investment activity: 1 skipped",
            "holding ZZZZ: unknown symbol; not mirrored",
            "pending: not mirrored until it posts: 1 skipped",
            "unknown symbol ZZZZ: 1 skipped",
        ]
    )


async def test_two_syncs_at_once_end_with_one_ledger_and_leave_other_users_alone(
    app: FastAPI, client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    account_id = await brokerage_of(client, alice, "race")
    mine = (await client.post(f"{V1}/", json={"name": "Mine"}, headers=alice.headers)).json()
    theirs = (await client.post(f"{V1}/", json={"name": "Theirs"}, headers=bob.headers)).json()
    # Both portfolios point at alice's account, as if it had just been followed (bob's could
    # never be through the API): the sync must mirror alice's only.
    async with app.state.runtime.sessions() as session:
        await session.execute(
            update(Portfolio)
            .where(
                Portfolio.id.in_([uuid.UUID(mine["portfolioId"]), uuid.UUID(theirs["portfolioId"])])
            )
            .values(account_id=uuid.UUID(account_id))
        )
        await session.commit()

    async def run() -> int:
        async with app.state.runtime.sessions() as session:
            account = await session.get(LinkedAccount, uuid.UUID(account_id))
            assert account is not None
            count = await following.sync_followers(
                session, app.state.runtime.get(MarketData), account
            )
            await commit(session)
            return count

    assert await asyncio.gather(run(), run()) == [1, 1]
    rows = await ledger(client, alice, mine["portfolioId"])
    assert positions(rows) == holdings(await account_detail(client, alice, account_id))
    assert len({r["sourceTransactionId"] for r in rows}) == len(rows)
    async with app.state.runtime.sessions() as session:
        stored = (
            (
                await session.execute(
                    select(PortfolioTransaction.source_transaction_id).where(
                        PortfolioTransaction.portfolio_id == uuid.UUID(mine["portfolioId"])
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(stored) == sorted(r["sourceTransactionId"] for r in rows)
    assert (await portfolio(client, alice, mine["portfolioId"]))["version"] == mine["version"] + 1
    assert await ledger(client, bob, theirs["portfolioId"]) == []
    assert (await portfolio(client, bob, theirs["portfolioId"]))["version"] == theirs["version"]


async def test_following_another_account_keeps_the_first_ones_rows_as_history(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    first = await brokerage_of(client, alice, "first-broker")
    second = await brokerage_of(client, alice, "second-broker")
    created = await follow_new(client, alice, first)
    kept = await ledger(client, alice, created["portfolioId"])

    moved = await client.put(
        f"{V1}/{created['portfolioId']}/follow", json={"accountId": second}, headers=alice.headers
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["accountId"] == second
    rows = await ledger(client, alice, created["portfolioId"])
    assert [r for r in rows if r["sourceTransactionId"].startswith(first)] == kept
    theirs = [r for r in rows if r["sourceTransactionId"].startswith(second)]
    assert positions(theirs) == holdings(await account_detail(client, alice, second))
    assert len(rows) == len(kept) + len(theirs)
    await sync(app, first)  # the first account's syncs no longer reach the portfolio
    assert await ledger(client, alice, created["portfolioId"]) == rows
