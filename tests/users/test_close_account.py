"""Closing one's account (`DELETE /users/me`): after the email, the password and a code, every
row Flint kept of the user is gone (another user's stay), the link is revoked at the sandbox,
the reports' files are deleted, every credential stops working, and an email confirms it. A
refusal changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from flint.accounts.api import Accounts
from flint.accounts.models import AccountLink
from flint.brokerage.api import AccountGone
from flint.config import Settings
from flint.db import Base
from flint.notifications.models import OutboxMessage
from tests.auth.conftest import clock
from tests.auth.helpers import login
from tests.auth.helpers_two_factor import Clock, turn_on
from tests.authz.world import build
from tests.conftest import Account, assert_problem, error_fields
from tests.trades.conftest import link_sandbox, worker
from tests.users.keys_helpers import make_key

__all__ = ["clock", "worker"]

ME = "/api/v1/users/me"
FAREWELL = "Your Flint account is closed"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limits_enabled": False}


async def close(
    client: httpx.AsyncClient, who: Account, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    body = {"email": who.email, "password": who.password} | body
    body = {name: value for name, value in body.items() if value is not None}
    return await client.request("DELETE", ME, json=body, headers=headers or who.headers)


async def every_row(app: FastAPI) -> dict[str, list[str]]:
    """Every row of every table, as text, by table."""
    found: dict[str, list[str]] = {}
    async with app.state.runtime.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).all()
            found[table.name] = [" ".join(str(value) for value in row) for row in rows]
    return found


def holding(rows: dict[str, list[str]], secrets: set[str]) -> dict[str, list[str]]:
    """The rows that mention any of ``secrets`` (lower-cased: ids are stored either way)."""
    lowered = {secret.lower() for secret in secrets}
    return {
        table: hits
        for table, texts in rows.items()
        if (hits := [text for text in texts if any(s in text.lower() for s in lowered)])
    }


async def link_credentials(app: FastAPI, user_id: str) -> list[dict[str, Any]]:
    box = app.state.runtime.get(Accounts).box
    async with app.state.runtime.sessions() as session:
        links = await session.scalars(
            select(AccountLink).where(AccountLink.user_id == uuid.UUID(user_id))
        )
        return [box.open(link.sealed_credentials) for link in links if link.sealed_credentials]


def report_files(settings: Settings) -> set[Path]:
    return {path for path in (settings.data_dir / "reports").rglob("*") if path.is_file()}


async def test_closing_deletes_everything_of_the_user_and_nothing_of_anyone_else(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, worker: None
) -> None:
    alice, bob = await build(client, app, "Alice"), await build(client, app, "Bob")
    assert alice.authenticator is not None
    assert holding(await every_row(app), alice.secrets)  # the check can see alice's rows
    credentials = await link_credentials(app, alice.account.user_id)
    assert credentials
    files = report_files(settings)
    assert len(files) == 2  # one report each
    code = alice.authenticator.code(datetime.now(UTC), steps=1)  # not the step turn_on spent

    closed = await close(client, alice.account, code=code)

    assert closed.status_code == 204, closed.text
    rows = await every_row(app)
    farewells = [text for text in rows["notification_outbox"] if FAREWELL in text]
    assert len(farewells) == 1
    rows["notification_outbox"].remove(farewells[0])
    assert holding(rows, alice.secrets) == {}
    assert holding(rows, bob.secrets).keys() >= {"users", "portfolios", "trades", "reports"}
    sandbox = app.state.runtime.get(Accounts).providers.get("sandbox")
    for opened in credentials:  # revoked at the institution, not only forgotten here
        with pytest.raises(AccountGone):
            await sandbox.accounts({}, opened)
    assert len(report_files(settings)) == 1
    assert (
        await client.get(f"/api/v1/portfolio/{bob.ids['portfolio']}", headers=bob.headers)
    ).status_code == 200


async def test_every_credential_stops_and_the_email_can_sign_up_again(
    app: FastAPI, client: httpx.AsyncClient, alice: Account
) -> None:
    other_device = (await login(client, alice.email, alice.password)).json()
    key = (await make_key(client, alice, "read"))["key"]

    assert (await close(client, alice)).status_code == 204

    for headers in (alice.headers, {"Authorization": f"Bearer {other_device['token']}"}):
        assert_problem(await client.get(ME, headers=headers), 401)
    assert_problem(await client.get(ME, headers={"X-API-Key": key}), 401)
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refreshToken": alice.refresh_token}
    )
    assert_problem(refreshed, 401)
    assert_problem(await login(client, alice.email, alice.password), 401)
    again = await client.post(
        "/api/v1/auth/register", json={"email": alice.email, "password": alice.password}
    )
    assert again.status_code == 201, again.text
    assert again.json()["userId"] != alice.user_id
    async with app.state.runtime.sessions() as session:
        [farewell] = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.subject == FAREWELL))
        ).all()
    assert (farewell.recipient, farewell.user_id, farewell.channel) == (alice.email, None, "email")


async def test_a_refusal_changes_nothing(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    await link_sandbox(client, alice)
    portfolio = await client.post(
        "/api/v1/portfolio/", json={"name": "Kept", "assets": []}, headers=alice.headers
    )
    assert portfolio.status_code == 201, portfolio.text
    wrong_email = await close(client, alice, email="someone.else@example.com")
    assert error_fields(assert_problem(wrong_email, 422)) == {"body.email"}
    no_password = await close(client, alice, password=None)
    assert error_fields(assert_problem(no_password, 422)) == {"body.password"}
    wrong_password = await close(client, alice, password="not-the-password-at-all")
    assert assert_problem(wrong_password, 403)["detail"] == "The password is incorrect."
    app = await turn_on(client, alice, clock)
    no_code = await close(client, alice)
    assert error_fields(assert_problem(no_code, 422)) == {"body.code"}
    wrong_code = await close(client, alice, code="000000")
    assert "incorrect" in assert_problem(wrong_code, 403)["detail"]
    for _ in range(3):  # five wrong answers in all: the next is refused before it is checked
        assert_problem(await close(client, alice, password="not-it-either!", code="111111"), 403)
    locked = await close(client, alice, code=app.code(clock.now, steps=1))
    assert_problem(locked, 429)

    assert (await client.get(ME, headers=alice.headers)).status_code == 200
    listed = await client.get("/api/v1/portfolio/", headers=alice.headers)
    assert [p["name"] for p in listed.json()["portfolios"]] == ["Kept"]
    assert (
        len((await client.get("/api/v1/accounts", headers=alice.headers)).json()["accounts"]) == 3
    )


async def test_two_factor_accounts_close_with_a_recovery_code(
    client: httpx.AsyncClient, alice: Account, clock: Clock
) -> None:
    app = await turn_on(client, alice, clock)
    closed = await close(client, alice, code=app.recovery_codes[0])
    assert closed.status_code == 204, closed.text
    assert_problem(await client.get(ME, headers=alice.headers), 401)


async def test_an_api_key_cannot_close_the_account(
    client: httpx.AsyncClient, alice: Account
) -> None:
    key = (await make_key(client, alice, "read", "write", "trade"))["key"]
    refused = await close(client, alice, headers={"X-API-Key": key})
    assert "`session`" in assert_problem(refused, 403)["detail"]
    assert (await client.get(ME, headers=alice.headers)).status_code == 200
