"""The headers every answer carries, HSTS only over TLS (as uvicorn serves Flint: forwarded
headers believed from trusted proxies only), and the trusted hosts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from flint.app.cli import uvicorn_options
from flint.config import Settings
from tests.conftest import assert_problem

HARDENED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def served(app: FastAPI, settings: Settings) -> ASGIApp:
    """The app wrapped the way `flint serve` has uvicorn wrap it."""
    config = uvicorn.Config(app, log_config=None, **uvicorn_options(settings))
    config.load()
    return config.loaded_app


def client_at(app: ASGIApp, address: str, base_url: str = "http://testserver") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 4000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def hardened(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers.get(name, "") for name in HARDENED}


async def test_every_answer_is_hardened(client: httpx.AsyncClient) -> None:
    answers = [
        await client.get("/healthz"),
        await client.get("/openapi.json"),
        await client.get("/api/v1/auth/me"),  # 401 problem
        await client.get("/api/v1/no-such-thing"),  # 404 problem
        await client.post("/api/v1/auth/register", json={"email": "x"}),  # 422 problem
        await client.get("/static/docs/swagger-ui.css"),
        await client.get("/reset-password"),  # an HTML page with a policy of its own
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 401, 404, 422, 200, 200]
    for answer in answers:
        assert hardened(answer) == HARDENED, answer.url
        assert len(answer.headers.get_list("x-frame-options")) == 1
        assert "strict-transport-security" not in answer.headers  # plain HTTP
        policies = answer.headers.get_list("content-security-policy")
        assert len(policies) == 1
        assert "frame-ancestors 'none'" in policies[0].split("; "), answer.url
    for answer in answers[:-1]:
        assert answer.headers["content-security-policy"] == "frame-ancestors 'none'", answer.url
    assert "default-src 'none'" in answers[-1].headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_docs_pages_keep_their_own_policy_and_forbid_framing(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert hardened(response) == HARDENED
    policy = [part.strip() for part in response.headers["content-security-policy"].split(";")]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers.get_list("content-security-policy") == [
        response.headers["content-security-policy"]
    ]


async def test_hsts_only_for_requests_that_came_over_tls(app: FastAPI) -> None:
    async with client_at(app, "127.0.0.1", "https://testserver") as https:
        secure = await https.get("/healthz")
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    assert hardened(secure) == HARDENED


async def test_a_trusted_proxy_forwarding_tls_gets_hsts_an_untrusted_peer_does_not(
    app: FastAPI, settings: Settings
) -> None:
    assert settings.forwarded_allow_ips == "127.0.0.1"  # the default
    server = served(app, settings)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"}
    async with client_at(server, "127.0.0.1") as proxy:
        via_proxy = await proxy.get("/healthz", headers=forwarded)
    async with client_at(server, "203.0.113.9") as stranger:
        spoofed = await stranger.get("/healthz", headers=forwarded)
    assert via_proxy.headers["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in spoofed.headers


class TestTrustedHosts:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"allowed_hosts": ["api.example.com", "*.flint.example"]}

    @pytest.fixture
    async def client(self, app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
        async with client_at(app, "192.0.2.1", "http://api.example.com") as http:
            yield http

    async def test_listed_hosts_are_answered(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/healthz")).status_code == 200
        other = await client.get("/healthz", headers={"Host": "eu.flint.example"})
        assert other.status_code == 200

    async def test_another_host_is_a_problem(self, client: httpx.AsyncClient) -> None:
        for host in ("evil.example", "flint.example.evil", "api.example.com.evil"):
            response = await client.post(
                "/api/v1/auth/register",
                headers={"Host": host},
                json={"email": "mallory@example.com", "password": "Tr0ub4dor&3-horse-staple"},
            )
            assert assert_problem(response, 400)["type"] == "/problems/bad-request"
            assert "host" in response.json()["detail"].lower()
            assert hardened(response) == HARDENED
        # Nothing was done for the refused hosts.
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": "mallory@example.com", "password": "Tr0ub4dor&3-horse-staple"},
        )
        assert login.status_code == 401


def test_any_host_by_default() -> None:
    assert Settings(_env_file=None).allowed_hosts == ["*"]
