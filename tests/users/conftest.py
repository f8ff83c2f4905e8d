"""Users fixtures: a superuser, promoted directly in the database (no API grants the flag)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from flint.users.models import User
from tests.conftest import Account, sign_up


async def make_superuser(app: FastAPI, user_id: str) -> None:
    async with app.state.runtime.sessions() as session:
        user = await session.get(User, uuid.UUID(user_id))
        assert user is not None
        user.is_superuser = True
        await session.commit()


@pytest.fixture
async def admin(client: httpx.AsyncClient, app: FastAPI) -> Account:
    account = await sign_up(client, "admin@example.com")
    await make_superuser(app, account.user_id)
    return account
