"""With Redis configured the limits are counted there; when it goes down they are counted in
the process's memory (sign-in keeps working), and back in Redis once it answers again.

A private `redis-server` is started for each test, stopped mid-test and started again: the
shared one is never touched.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
import structlog
from fastapi import FastAPI
from prometheus_client import REGISTRY

from flint.config import Settings
from flint.kit.ratelimit import RETRY_SECONDS
from tests.auth.helpers import WRONG, login
from tests.conftest import sign_up

pytestmark = [pytest.mark.waits, pytest.mark.timeout(120)]

EPHEMERAL = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PrivateRedis:
    """A throw-away Redis on a free port, without persistence, that a test can stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), *EPHEMERAL],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings_overrides(private_redis: PrivateRedis) -> dict[str, Any]:
    return {"redis_url": private_redis.url, "rate_limit_user": "5/hour"}


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def remaining(response: httpx.Response) -> int:
    assert response.status_code in (200, 429), response.text
    return int(response.headers["ratelimit-remaining"])


def user_keys(private_redis: PrivateRedis, settings: Settings) -> dict[bytes, bytes | None]:
    client = private_redis.client()
    keys = client.keys(f"{settings.rate_limit_namespace}:flint-api/user/*")
    return {key: client.get(key) for key in keys}


async def test_sign_in_and_limits_go_on_while_redis_is_down_and_return_to_it(
    client: httpx.AsyncClient, settings: Settings, private_redis: PrivateRedis, app: FastAPI
) -> None:
    alice = await sign_up(client)
    assert remaining(await client.get("/api/v1/auth/me", headers=alice.headers)) == 4
    assert list(user_keys(private_redis, settings).values()) == [b"1"]  # counted in Redis
    fallbacks = metric("flint_rate_limit_fallback_total")

    private_redis.stop()
    with structlog.testing.capture_logs() as logs:
        signed_in = await login(client, alice.email, alice.password)
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()["token"]
        assert (await login(client, alice.email, WRONG)).status_code == 401
        reset = await client.post("/api/v1/auth/reset-password", json={"email": alice.email})
        assert reset.status_code == 202, reset.text
        # The user's budget is counted on, in this process, from a fresh window.
        headers = {"Authorization": f"Bearer {token}"}
        counted = [
            remaining(await client.get("/api/v1/auth/me", headers=headers)) for _ in range(6)
        ]
        assert counted == [4, 3, 2, 1, 0, 0]
        assert metric("flint_rate_limit_fallback_active") == 1

        private_redis.start()  # empty: it keeps nothing on disk
        await asyncio.sleep(RETRY_SECONDS + 0.5)
        back = await client.get("/api/v1/auth/me", headers=headers)
        assert back.status_code == 200
        assert remaining(back) == 4  # Redis's count, not the process's spent one
        assert list(user_keys(private_redis, settings).values()) == [b"1"]

    assert metric("flint_rate_limit_fallback_total") == fallbacks + 1  # once per outage
    assert metric("flint_rate_limit_fallback_active") == 0
    transitions = [entry["event"] for entry in logs if entry["event"].startswith("rate limits")]
    assert transitions == [
        "rate limits fall back to process memory: Redis fails",
        "rate limits back on Redis",
    ]


async def test_an_api_process_starting_while_redis_is_down_still_signs_users_in(
    client: httpx.AsyncClient, private_redis: PrivateRedis
) -> None:
    alice = await sign_up(client)
    private_redis.stop()
    for _ in range(3):
        answer = await login(client, alice.email, alice.password)
        assert answer.status_code == 200, answer.text
        assert int(answer.headers["ratelimit-remaining"]) >= 0
