"""SnapTrade's webhooks end to end: the local SnapTrade (tests/stubs/snaptrade/) changes a
connection and signs and delivers the event as SnapTrade does (tests/stubs/snaptrade/webhooks.py,
each payload checked against the spec's webhook schema); Flint takes only SnapTrade's signed,
recent deliveries, stores each ``webhookId`` once, and a real worker applies it to the link.
Every exchange of Flint with the stub is checked against SnapTrade's spec."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from flint.accounts import webhook_tasks
from flint.accounts.models import AccountLink
from flint.accounts.webhook_models import SnapTradeWebhook
from flint.app.main import create_app
from flint.config import Settings
from flint.kit.time import utcnow
from flint.notifications.models import OutboxMessage
from tests.auth.helpers import sent_emails, text_of
from tests.conftest import Account, assert_problem
from tests.notifications.conftest import eventually
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs.contract import Contract
from tests.stubs.server import RunningStub, run_stub
from tests.stubs.snaptrade import webhooks as hooks
from tests.trades.conftest import worker

__all__ = ["worker"]

V1 = "/api/v1"
Broker = tuple[RunningStub, snaptrade_stub.SnapTradeState]


@pytest.fixture(scope="module")
def broker_app() -> Starlette:
    return snaptrade_stub.create_app()


@pytest.fixture(scope="module")
def broker(broker_app: Starlette) -> Iterator[Broker]:
    with run_stub(broker_app) as running:
        yield running, broker_app.state.snaptrade


@pytest.fixture(autouse=True)
def spec_checked(broker_app: Starlette, broker: Broker) -> Iterator[None]:
    contract: Contract = broker_app.state.contract
    contract.clear()
    yield
    contract.assert_clean()


@pytest.fixture
def settings_overrides(broker: Broker) -> dict[str, Any]:
    stub, _ = broker
    stub.control.reset()
    return {
        "snaptrade_client_id": snaptrade_stub.CLIENT_ID,
        "snaptrade_consumer_key": snaptrade_stub.CONSUMER_KEY,
        "snaptrade_base_url": stub.url,
        "vendor_retry_attempts": 1,
    }


@pytest.fixture
def snaptrade(broker: Broker) -> hooks.SnapTradeWebhooks:
    return hooks.SnapTradeWebhooks(broker[1])


@pytest.fixture
def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker


async def link(
    client: httpx.AsyncClient,
    who: Account,
    state: snaptrade_stub.SnapTradeState,
    snaptrade_user: str | None = None,
) -> str:
    """Link a new SnapTrade connection of ``who`` (registered at SnapTrade as
    ``snaptrade_user``, by default their Flint id); its id."""
    portal = await client.post(
        f"{V1}/accounts/connect", json={"provider": "snaptrade"}, headers=who.headers
    )
    assert portal.status_code == 200, portal.text
    connection_id = state.connect(snaptrade_user or who.user_id)
    linked = await client.post(
        f"{V1}/accounts/link",
        json={"provider": "snaptrade", "authCode": connection_id},
        headers=who.headers,
    )
    assert linked.status_code == 201, linked.text
    return connection_id


async def deliver(client: httpx.AsyncClient, payload: dict[str, Any], **kw: Any) -> None:
    response = await hooks.deliver(client, payload, **kw)
    assert response.status_code in hooks.DELIVERED, response.text
    assert response.json() == {"received": True}


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[SnapTradeWebhook]:
    async with sessions() as session:
        stmt = select(SnapTradeWebhook).order_by(SnapTradeWebhook.received_at)
        return list((await session.execute(stmt)).scalars())


async def handled(sessions: async_sessionmaker[AsyncSession], webhook_id: str) -> str:
    """Wait for the worker to handle the event; its outcome."""

    async def check() -> str | None:
        async with sessions() as session:
            row = await session.get(SnapTradeWebhook, webhook_id)
            return row.outcome if row is not None and row.handled_at is not None else None

    outcome: str = await eventually(check, f"webhook {webhook_id} handled")
    return outcome


async def accounts(client: httpx.AsyncClient, who: Account) -> list[dict[str, Any]]:
    response = await client.get(f"{V1}/accounts", headers=who.headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["accounts"]
    return found


async def link_status(sessions: async_sessionmaker[AsyncSession], who: Account) -> list[str]:
    async with sessions() as session:
        stmt = select(AccountLink.status).where(AccountLink.user_id == uuid.UUID(who.user_id))
        return list((await session.execute(stmt)).scalars())


async def notices(client: httpx.AsyncClient, who: Account) -> list[dict[str, Any]]:
    response = await client.get(f"{V1}/notifications", headers=who.headers)
    assert response.status_code == 200, response.text
    return [n for n in response.json()["notifications"] if n["kind"] == "account"]


@asynccontextmanager
async def serving(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own, on ``settings`` with ``changes``."""
    app = create_app(settings.model_copy(update=changes))
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await app.state.runtime.aclose()


# --- what is refused -------------------------------------------------------------------------


def refusals(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Deliveries Flint must refuse, each named for what is wrong with it."""
    body = json.dumps(payload)
    tampered = json.dumps({**payload, "userId": str(uuid.uuid4())})
    no_offset = {**payload, "eventTimestamp": payload["eventTimestamp"].replace("+00:00", "")}
    not_an_event = {"hello": "world"}
    return {
        "unsigned": {"content": body, "headers": {"Content-Type": "application/json"}},
        "signed with another key": hooks.signed(payload, key="someone-elses-key"),
        "body changed after signing": {**hooks.signed(payload), "content": tampered},
        "stale (301 s old)": hooks.signed(hooks.aged(payload, 301)),
        "from the future (301 s ahead)": hooks.signed(hooks.aged(payload, -301)),
        "garbled signature": {"content": body, "headers": {"Signature": "not base64 at all"}},
        "signed, not JSON": {"content": "not json", "headers": {"Signature": hooks.signature("")}},
        "signed, not an event": hooks.signed(not_an_event),
        "signed, a time without offset": hooks.signed(no_offset),
        "another client id": hooks.signed({**payload, "clientId": "SOMEONE-ELSE"}),
    }


async def test_unsigned_mis_signed_stale_and_garbled_deliveries_are_400_and_nothing_is_kept(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await link(client, alice, broker[1])
    broken = snaptrade.break_connection(connection_id)

    for name, delivery in refusals(broken).items():
        response = await client.post(hooks.URL, **delivery)
        body = assert_problem(response, 400)
        assert body["type"] == "/problems/bad-request", name
        assert body["detail"].startswith("Not a webhook from SnapTrade"), name

    assert await stored(sessions) == []
    assert await link_status(sessions, alice) == ["active"]


async def test_a_delivery_within_the_replay_window_is_taken(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await link(client, alice, broker[1])
    late = hooks.aged(snaptrade.break_connection(connection_id), 240)
    await deliver(client, late)
    [row] = await stored(sessions)
    assert (row.id, row.event_type, row.connection_id) == (
        late["webhookId"],
        "CONNECTION_BROKEN",
        connection_id,
    )


async def test_the_specs_webook_id_spelling_is_read_too(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The spec's WebhookBase spells it ``webookId``."""
    connection_id = await link(client, alice, broker[1])
    payload = snaptrade.break_connection(connection_id)
    payload["webookId"] = payload.pop("webhookId")
    await deliver(client, payload)
    assert [row.id for row in await stored(sessions)] == [payload["webookId"]]


async def test_kinds_flint_does_not_handle_are_acknowledged_and_not_kept(
    client: httpx.AsyncClient,
    alice: Account,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for kind in ("USER_REGISTERED", "CONNECTION_ATTEMPTED", "SOMETHING_NEW"):
        await deliver(client, snaptrade.event(kind, alice.user_id))
    assert await stored(sessions) == []


async def test_without_snaptrade_the_webhook_is_503(
    settings: Settings, snaptrade: hooks.SnapTradeWebhooks
) -> None:
    bare = {"snaptrade_client_id": None, "snaptrade_consumer_key": None}
    async with serving(settings, **bare) as http:
        response = await hooks.deliver(http, snaptrade.event("CONNECTION_FIXED", "someone"))
    body = assert_problem(response, 503)
    assert "FLINT_SNAPTRADE_CONSUMER_KEY" in body["detail"]


async def test_a_delivery_over_the_general_body_limit_is_still_taken(
    settings: Settings, snaptrade: hooks.SnapTradeWebhooks
) -> None:
    """`FLINT_MAX_BODY_BYTES` is 2 KiB here; SnapTrade's events have a limit of their own."""
    async with serving(settings, max_body_bytes=2048) as http:
        big = snaptrade.event("ACCOUNT_HOLDINGS_UPDATED", "someone", details={"x": "y" * 4096})
        assert (await hooks.deliver(http, big)).status_code == 200
        huge = snaptrade.event("ACCOUNT_HOLDINGS_UPDATED", "someone", details={"x": "y" * 2**20})
        assert_problem(await hooks.deliver(http, huge), 413)
        assert_problem(await http.post(f"{V1}/accounts/link", content="y" * 4096), 413)


# --- what the events do -----------------------------------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_a_broken_connection_is_marked_and_the_user_gets_a_reconnect_link(
    settings: Settings,
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, state = broker
    connection_id = await link(client, alice, state)
    broken = snaptrade.break_connection(connection_id)

    await deliver(client, broken)
    assert await handled(sessions, broken["webhookId"]) == "broken, user told"

    assert await link_status(sessions, alice) == ["broken"]
    [account] = await accounts(client, alice)
    assert "reconnect" in account["syncError"]
    [notice] = await notices(client, alice)
    assert notice["title"] == "Robinhood: reconnect your accounts"
    assert notice["data"]["reconnect"] is True
    assert notice["data"]["accountIds"] == [account["accountId"]]
    assert "http" not in notice["body"]  # the portal link goes by email only

    async with sessions() as session:
        [mail] = (await session.execute(select(OutboxMessage))).scalars().all()
    assert mail.recipient == alice.email
    assert "${reconnect_url}" in mail.body  # the stored body keeps a placeholder, never the link
    url = await eventually(lambda: portal_link_sent(settings), "the email with the portal link")
    assert parse_qs(urlsplit(url).query)["sessionId"]

    async with httpx.AsyncClient() as browser:  # the user follows the link
        followed = await browser.get(url)
    assert followed.json() == {"authorizationId": connection_id}  # repaired, not a new one
    assert state.connections[connection_id].disabled is False
    owned = [c.id for c in state.connections.values() if c.user_id == alice.user_id]
    assert owned == [connection_id]


PORTAL_LINK = re.compile(r"^(http://127\.0\.0\.1:\d+/_portal\?\S+)$", re.MULTILINE)


def portal_link_sent(settings: Settings) -> str | None:
    """The Connection Portal link in the email written to the outbox folder, once written."""
    for mail in sent_emails(settings.data_dir).values():
        found = PORTAL_LINK.search(text_of(mail))
        if found:
            return found.group(1)
    return None


@pytest.mark.usefixtures("worker")
async def test_twenty_concurrent_deliveries_of_one_webhook_make_one_row_and_one_notice(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await link(client, alice, broker[1])
    broken = snaptrade.break_connection(connection_id)

    await asyncio.gather(*(deliver(client, broken) for _ in range(20)))
    await handled(sessions, broken["webhookId"])
    await deliver(client, broken)  # and once more, later

    assert [(r.id, r.outcome) for r in await stored(sessions)] == [
        (broken["webhookId"], "broken, user told")
    ]
    assert len(await notices(client, alice)) == 1


@pytest.mark.usefixtures("worker")
async def test_a_fixed_connection_is_active_again_and_synced(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await link(client, alice, broker[1])
    [before] = await accounts(client, alice)
    broken = snaptrade.break_connection(connection_id)
    await deliver(client, broken)
    await handled(sessions, broken["webhookId"])

    fixed = snaptrade.fix_connection(connection_id)
    await deliver(client, fixed)
    assert await handled(sessions, fixed["webhookId"]) == "active, sync queued"

    assert await link_status(sessions, alice) == ["active"]

    async def synced_again() -> dict[str, Any] | None:
        [now] = await accounts(client, alice)
        return now if now["lastSyncedAt"] > before["lastSyncedAt"] else None

    after = await eventually(synced_again, "the sync after the fix")
    assert after["syncError"] is None


@pytest.mark.usefixtures("worker")
async def test_an_older_connection_event_delivered_late_changes_nothing(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """SnapTrade broke the connection, then it was fixed; the fix arrives first."""
    connection_id = await link(client, alice, broker[1])
    broken = hooks.aged(snaptrade.break_connection(connection_id), 60)
    fixed = snaptrade.fix_connection(connection_id)

    await deliver(client, fixed)
    await handled(sessions, fixed["webhookId"])
    await deliver(client, broken)

    assert await handled(sessions, broken["webhookId"]) == "stale"
    assert await link_status(sessions, alice) == ["active"]
    assert await notices(client, alice) == []


@pytest.mark.usefixtures("worker")
async def test_a_connection_deleted_at_snaptrade_is_unlinked_and_the_user_told(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await link(client, alice, broker[1])
    deleted = snaptrade.delete_connection(connection_id)

    await deliver(client, deleted)
    assert await handled(sessions, deleted["webhookId"]) == "unlinked"

    assert await link_status(sessions, alice) == ["unlinked"]
    assert await accounts(client, alice) == []
    [notice] = await notices(client, alice)
    assert notice["title"] == "A brokerage connection was removed"

    again = snaptrade.event("CONNECTION_DELETED", alice.user_id, connection_id=connection_id)
    await deliver(client, again)  # a second event (not a redelivery) for the same connection
    assert await handled(sessions, again["webhookId"]) == "already unlinked"
    assert len(await notices(client, alice)) == 1


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize("kind", ["holdings_updated", "trades_placed"])
async def test_holdings_updated_and_trades_placed_sync_the_link(
    kind: str,
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, state = broker
    await link(client, alice, state)
    [account] = await accounts(client, alice)
    [remote] = state.user_accounts(alice.user_id)
    remote.balances[0]["cash"] = Decimal("999.99")  # changed at the brokerage

    event = getattr(snaptrade, kind)(remote.id)
    await deliver(client, event)
    assert await handled(sessions, event["webhookId"]) == "sync queued"

    async def cash() -> str | None:
        [now] = await accounts(client, alice)
        value = now["balances"]["cash"]
        return value if Decimal(str(value)) == Decimal("999.99") else None

    assert Decimal(str(account["balances"]["cash"])) == Decimal("300.71")  # before the event
    await eventually(cash, "the synced cash balance")


@pytest.mark.usefixtures("worker")
async def test_a_new_account_behind_a_connection_is_linked_and_synced(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await link(client, alice, broker[1])
    [first] = await accounts(client, alice)
    added = snaptrade.new_account(connection_id, name="Robinhood Roth IRA")

    await deliver(client, added)
    assert await handled(sessions, added["webhookId"]) == "1 account(s) linked, sync queued"

    async def both_synced() -> list[dict[str, Any]] | None:
        found = await accounts(client, alice)
        return found if len(found) == 2 and all(a["lastSyncedAt"] for a in found) else None

    found = await eventually(both_synced, "the new account, synced")
    [new] = [a for a in found if a["accountId"] != first["accountId"]]
    assert (new["name"], new["provider"], new["canTrade"]) == (
        "Robinhood Roth IRA",
        "snaptrade",
        True,
    )
    assert Decimal(str(new["balances"]["cash"])) == Decimal(str(first["balances"]["cash"]))

    again = await hooks.deliver(client, {**added, "webhookId": str(uuid.uuid4())})
    assert again.status_code == 200
    assert len(await accounts(client, alice)) == 2  # nothing linked twice


@pytest.mark.usefixtures("worker")
async def test_events_for_users_or_connections_flint_does_not_know_are_ignored(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await link(client, alice, broker[1])
    stranger = snaptrade.event("CONNECTION_BROKEN", str(uuid.uuid4()), connection_id=connection_id)
    not_ours = snaptrade.event("CONNECTION_BROKEN", "external_user@test.com")
    elsewhere = snaptrade.event("CONNECTION_BROKEN", alice.user_id, connection_id=str(uuid.uuid4()))
    for event in (stranger, not_ours, elsewhere):
        await deliver(client, event)

    assert await handled(sessions, stranger["webhookId"]) == "ignored: unknown user"
    assert await handled(sessions, not_ours["webhookId"]) == "ignored: unknown user"
    assert await handled(sessions, elsewhere["webhookId"]) == "ignored: unknown connection"
    assert await link_status(sessions, alice) == ["active"]


@pytest.mark.usefixtures("worker")
async def test_an_event_whose_job_was_lost_is_handled_by_the_sweep(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await link(client, alice, broker[1])
    broken = snaptrade.break_connection(connection_id)
    async with sessions() as session:  # stored as the webhook stores it, its job never sent
        session.add(
            SnapTradeWebhook(
                id=broken["webhookId"],
                event_type="CONNECTION_BROKEN",
                user_id=alice.user_id,
                connection_id=connection_id,
                occurred_at=utcnow(),
                payload=broken,
            )
        )
        await session.commit()

    sweep = webhook_tasks.sweep_snaptrade_webhooks
    assert await anyio.to_thread.run_sync(lambda: sweep.apply().get()) == 0  # too recent
    async with sessions() as session:
        aged = utcnow() - timedelta(minutes=6)
        await session.execute(update(SnapTradeWebhook).values(received_at=aged))
        await session.commit()
    assert await anyio.to_thread.run_sync(lambda: sweep.apply().get()) == 1

    assert await handled(sessions, broken["webhookId"]) == "broken, user told"
    assert await link_status(sessions, alice) == ["broken"]


@pytest.mark.usefixtures("worker")
async def test_the_user_repairs_a_broken_connection_through_flints_connect(
    client: httpx.AsyncClient,
    alice: Account,
    bob: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """What the notice says to do: POST /accounts/connect with ``reconnect``, once the
    emailed link has expired."""
    _, state = broker
    connection_id = await link(client, alice, state)
    broken = snaptrade.break_connection(connection_id)
    await deliver(client, broken)
    await handled(sessions, broken["webhookId"])
    [account] = await accounts(client, alice)
    [notice] = await notices(client, alice)
    assert f'"reconnect": "{account["accountId"]}"' in notice["body"]

    ask = {"provider": "snaptrade", "reconnect": account["accountId"]}
    others = await client.post(f"{V1}/accounts/connect", json=ask, headers=bob.headers)
    assert_problem(others, 404)
    portal = await client.post(f"{V1}/accounts/connect", json=ask, headers=alice.headers)
    assert portal.status_code == 200, portal.text
    async with httpx.AsyncClient() as browser:
        followed = await browser.get(portal.json()["url"])
    assert followed.json() == {"authorizationId": connection_id}
    assert state.connections[connection_id].disabled is False

    fixed = snaptrade.event("CONNECTION_FIXED", alice.user_id, connection_id=connection_id)
    await deliver(client, fixed)  # what SnapTrade says once the user has repaired it
    await handled(sessions, fixed["webhookId"])
    assert await link_status(sessions, alice) == ["active"]


async def test_reconnect_needs_an_account_linked_through_that_provider(
    client: httpx.AsyncClient, alice: Account
) -> None:
    linked = await client.post(
        f"{V1}/accounts/link",
        json={"provider": "sandbox", "authCode": "demo"},
        headers=alice.headers,
    )
    assert linked.status_code == 201, linked.text
    ask = {"provider": "snaptrade", "reconnect": linked.json()["accountId"]}
    refused = await client.post(f"{V1}/accounts/connect", json=ask, headers=alice.headers)
    body = assert_problem(refused, 422)
    assert body["errors"][0]["field"] == "body.reconnect"


@pytest.mark.usefixtures("worker")
async def test_an_unlink_in_flint_is_confirmed_by_connection_deleted_without_a_notice(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Flint's unlink asks SnapTrade to delete the connection (``DELETE /connection/{id}``,
    asynchronous at SnapTrade) and unlinks at once; SnapTrade's CONNECTION_DELETED follows."""
    _, state = broker
    connection_id = await link(client, alice, state)
    [account] = await accounts(client, alice)
    gone = await client.delete(f"{V1}/accounts/{account['accountId']}", headers=alice.headers)
    assert gone.status_code == 204, gone.text
    assert connection_id in state.deleted_connections  # asked of SnapTrade
    assert await link_status(sessions, alice) == ["unlinked"]

    deleted = snaptrade.connection_deleted(connection_id)
    await deliver(client, deleted)
    assert await handled(sessions, deleted["webhookId"]) == "already unlinked"
    assert await link_status(sessions, alice) == ["unlinked"]
    assert await notices(client, alice) == []


@pytest.mark.usefixtures("worker")
async def test_connection_deleted_while_flints_unlink_waits_for_snaptrade_is_no_news(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """SnapTrade's CONNECTION_DELETED can arrive, and a worker take it, while Flint's unlink is
    still waiting for ``DELETE /connection``'s answer: the unlink holds the link's row, so the
    event waits and finds the link unlinked, and the user is not told of a removal they asked
    for (without the lock, on PostgreSQL, the worker unlinked an active link and told them)."""
    stub, state = broker
    connection_id = await link(client, alice, state)
    [account] = await accounts(client, alice)
    stub.control.set("slow", times=1, delay=2.0)  # SnapTrade takes its time to answer
    unlinking = asyncio.create_task(
        client.delete(f"{V1}/accounts/{account['accountId']}", headers=alice.headers)
    )

    def asked() -> bool:
        return any(seen.path.startswith("/connection/") for seen in stub.control.requests)

    await eventually(asked, "DELETE /connection sent")
    deleted = snaptrade.event("CONNECTION_DELETED", alice.user_id, connection_id=connection_id)
    await deliver(client, deleted)  # meanwhile

    assert (await unlinking).status_code == 204
    assert await handled(sessions, deleted["webhookId"]) == "already unlinked"
    assert await link_status(sessions, alice) == ["unlinked"]
    assert await notices(client, alice) == []


@pytest.mark.usefixtures("worker")
async def test_events_name_the_snaptrade_user_a_recovered_registration_made(
    client: httpx.AsyncClient,
    alice: Account,
    broker: Broker,
    snaptrade: hooks.SnapTradeWebhooks,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Alice's registration lost its answer, so Flint deleted the orphan and registered her
    again as ``<her id>.<hex>``: SnapTrade's events name that user, and the orphan is nobody."""
    stub, state = broker
    stub.control.set("register_lost", times=1)
    portal = await client.post(
        f"{V1}/accounts/connect", json={"provider": "snaptrade"}, headers=alice.headers
    )
    assert portal.status_code == 200, portal.text
    assert alice.user_id in state.deleted_users
    [recovered] = [u for u in state.users if u.startswith(f"{alice.user_id}.")]
    connection_id = await link(client, alice, state, snaptrade_user=recovered)

    orphan = snaptrade.event("CONNECTION_BROKEN", alice.user_id, connection_id=connection_id)
    await deliver(client, orphan)
    assert await handled(sessions, orphan["webhookId"]) == "ignored: unknown user"

    broken = snaptrade.break_connection(connection_id)
    assert broken["userId"] == recovered
    await deliver(client, broken)
    assert await handled(sessions, broken["webhookId"]) == "broken, user told"
    assert await link_status(sessions, alice) == ["broken"]
    assert len(await notices(client, alice)) == 1
