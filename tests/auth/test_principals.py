"""Token checks without the request's transaction: the cached sign-in state is dropped when it
changes, a remembered token still expires, and on SQLite a check never waits for a writer."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from cashews import Cache
from fastapi import FastAPI
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.db import commit
from flint.users import tokens
from flint.users.api import Principals
from flint.users.models import User
from flint.users.principals import principal_key
from tests.auth.helpers import me, reset_token
from tests.auth.test_password_reset import confirm
from tests.conftest import Account, assert_problem

QUOTE = "/api/v1/market/real-time/AAPL"


async def deactivate(sessions: async_sessionmaker[AsyncSession], user_id: str) -> None:
    async with sessions() as session:
        await session.execute(
            update(User).where(User.id == uuid.UUID(user_id)).values(is_active=False)
        )
        await commit(session)


async def test_a_reset_ends_tokens_whose_sign_in_state_was_cached(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    assert (await client.get(QUOTE, headers=alice.headers)).status_code == 200
    cache = app.state.runtime.get(Cache)
    assert await cache.get(principal_key(uuid.UUID(alice.user_id))) == {"version": 0}

    assert (await confirm(client, await reset_token(client, app, alice.email))).status_code == 200

    assert await cache.get(principal_key(uuid.UUID(alice.user_id))) is None
    assert_problem(await client.get(QUOTE, headers=alice.headers), 401)
    assert_problem(await me(client, alice.token), 401)


async def test_a_user_changed_behind_flints_back_is_refused_once_the_state_is_forgotten(
    app: FastAPI,
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    alice: Account,
) -> None:
    assert (await client.get(QUOTE, headers=alice.headers)).status_code == 200
    await deactivate(sessions, alice.user_id)
    # Routes that load the user see the change at once; the cached state holds for its TTL
    # unless the code that changed the user forgets it, as every change made by Flint does.
    assert_problem(await me(client, alice.token), 401)
    await app.state.runtime.get(Principals).forget(uuid.UUID(alice.user_id))
    assert_problem(await client.get(QUOTE, headers=alice.headers), 401)


class TestWithoutCache:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"principal_cache_seconds": 0}

    async def test_with_no_cache_a_deactivated_user_is_refused_at_once(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        sessions: async_sessionmaker[AsyncSession],
        alice: Account,
    ) -> None:
        assert (await client.get(QUOTE, headers=alice.headers)).status_code == 200
        assert (
            await app.state.runtime.get(Cache).get(principal_key(uuid.UUID(alice.user_id))) is None
        )
        await deactivate(sessions, alice.user_id)
        assert_problem(await client.get(QUOTE, headers=alice.headers), 401)

    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    async def test_on_sqlite_a_token_check_does_not_wait_for_a_writer(
        self, app: FastAPI, client: httpx.AsyncClient, alice: Account
    ) -> None:
        assert (await client.get(QUOTE, headers=alice.headers)).status_code == 200  # warm quote
        engine = app.state.runtime.engine
        async with engine.connect() as writer:  # BEGIN IMMEDIATE: holds the write lock
            await writer.execute(text("UPDATE users SET full_name = 'busy' WHERE 1 = 0"))
            answered = await asyncio.wait_for(client.get(QUOTE, headers=alice.headers), 10)
            assert answered.status_code == 200
            assert answered.json()["symbol"] == "AAPL"
            await writer.rollback()


async def test_a_remembered_token_is_refused_once_it_expires(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await client.get(QUOTE, headers=alice.headers)).status_code == 200
    later = time.time() + 16 * 60  # the default lifetime is 15 minutes, leeway 5 s
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    assert_problem(await client.get(QUOTE, headers=alice.headers), 401)
