"""Small helpers shared by the auth tests."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import jwt
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint import jobs
from flint.auth import service as auth
from flint.db import commit
from flint.kit.crypto import CredentialBox
from flint.notifications import service as notifications
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


SECRET = "test-signing-key-" + "k" * 48
"""A signing key for tests that forge tokens (`settings_overrides`: `jwt_secret`)."""


def claims(user_id: str, **changes: Any) -> dict[str, Any]:
    """Claims like the app's own; a change to None drops that claim."""
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "iss": "flint",
        "ver": 0,
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def forge(payload: dict[str, Any], *, key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


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


def take_queued(name: str) -> list[list[Any]]:
    """Take every job out of the in-memory broker; the arguments of those named ``name`` (what
    a worker would run them with)."""
    found: list[list[Any]] = []
    with jobs.celery_app.connection_for_read() as connection:
        channel = connection.default_channel
        queue = jobs.celery_app.conf.task_default_queue
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            if message.headers["task"] == name:
                found.append(list(message.decode()[0]))
    return found


async def run_reset_jobs(app: FastAPI) -> int:
    """What a worker does with the reset requests made so far: their `send_password_reset`
    jobs, then the delivery of the emails they queued; how many jobs ran."""
    runtime = app.state.runtime
    queued = take_queued(auth.SEND_RESET)
    for (address,) in queued:
        async with runtime.sessions() as session:
            await auth.send_password_reset(session, runtime.get(auth.ResetMail), address)
            await commit(session)
    await deliver_pending(app)
    return len(queued)


async def deliver_pending(app: FastAPI) -> None:
    runtime = app.state.runtime
    for message in await outbox(runtime.sessions):
        if message.status == "pending":
            async with runtime.sessions() as session:
                box = runtime.get(CredentialBox)
                await notifications.deliver(session, runtime.settings, message.id, box)
                await commit(session)


def sent_emails(data_dir: Path) -> dict[Path, EmailMessage]:
    """The emails written to the outbox folder (no SMTP configured), by file."""
    found: dict[Path, EmailMessage] = {}
    for path in sorted((data_dir / "outbox").glob("*.eml")):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        found[path] = parsed
    return found


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


async def reset_token(client: httpx.AsyncClient, app: FastAPI, address: str) -> str:
    """Ask for a reset, let the worker's jobs run, and read the token from the email sent."""
    data_dir = app.state.runtime.settings.data_dir
    await deliver_pending(app)  # mail queued earlier (a sign-in notice) is not the reset's
    before = set(sent_emails(data_dir))
    take_queued("")  # jobs left by earlier tests (the in-memory broker outlives them)
    response = await client.post(f"{V1}/reset-password", json={"email": address})
    assert response.status_code == 202, response.text
    await run_reset_jobs(app)
    [new] = [message for path, message in sent_emails(data_dir).items() if path not in before]
    return reset_token_in(text_of(new))


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
