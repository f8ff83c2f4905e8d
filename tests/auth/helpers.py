"""Small helpers shared by the auth tests."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.notifications.models import OutboxMessage
from flint.users.models import User
from tests.conftest import assert_problem

V1 = "/api/v1/auth"
UNVERSIONED = "/api/auth"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(
    client: httpx.AsyncClient, email: str, password: str, *, prefix: str = V1
) -> httpx.Response:
    return await client.post(f"{prefix}/login", json={"email": email, "password": password})


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get(f"{V1}/me", headers=bearer(token))


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(f"{V1}/refresh", json={"refreshToken": refresh_token})


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    """A problem body minus what differs per request, to compare two answers byte for byte."""
    return {key: value for key, value in body.items() if key not in {"requestId", "instance"}}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def segments(token: str) -> list[dict[str, Any]]:
    """The decoded header and claims of a JWT, without checking anything."""
    head, body, _signature = token.split(".")
    return [
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in (head, body)
    ]


async def user_row(sessions: async_sessionmaker[AsyncSession], email: str) -> User:
    async with sessions() as session:
        stmt = select(User).where(func.lower(User.email) == email.lower())
        user = (await session.execute(stmt)).scalar_one()
        return user


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at)
        return list((await session.execute(stmt)).scalars())


RESET_TOKEN = re.compile(r"^Reset token: (\S+)$", re.MULTILINE)


def reset_token_in(body: str) -> str:
    found = RESET_TOKEN.search(body)
    assert found, f"no reset token in the email body:\n{body}"
    return found.group(1)


WRONG = "Not-the-right-passw0rd"


def assert_throttled(response: httpx.Response, window_seconds: int = 15 * 60) -> None:
    problem = assert_problem(response, 429)
    assert problem["type"] == "/problems/rate-limited"
    assert "token" not in problem
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 0 < int(retry_after) <= window_seconds
