"""What `/metrics` shows of the requests the outer middleware refuses before any route sees them
(a 429 of the rate limiter, a 400 of the host check), and of quote-stream WebSockets opening and
closing. (Requests that reach a route: `tests/app/test_metrics.py`.)"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from flint.config import Settings
from tests.app.test_metrics import key, moved, parse, scrape
from tests.app.test_rate_limits import client_at
from tests.conftest import assert_problem, sign_up
from tests.market.stream_client import open_socket, receive, serving

COUNTED = "flint_http_requests_total"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "rate_limit_ip": "2/hour",
        "allowed_hosts": ["testserver", "127.0.0.1", "flint.example"],
        "market_providers": ["simulated"],
    }


async def test_a_request_refused_by_the_rate_limiter_is_counted_as_a_429(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A 429 flood is what an operator most wants to see: the limiter sits inside the metrics
    middleware, so its refusals are counted (under ``<unmatched>``: no route ran)."""
    before = await scrape(client)
    async with client_at(app, "192.0.2.70") as flooder:
        answers = [await flooder.get("/api/v1/auth/me") for _ in range(3)]
    after = await scrape(client)

    assert [answer.status_code for answer in answers] == [401, 401, 429]
    route = "/api/v1/auth/me"
    assert moved(before, after, COUNTED, route=route, method="GET", status="401") == 2
    assert moved(before, after, COUNTED, route="<unmatched>", method="GET", status="429") == 1


async def test_a_request_for_an_untrusted_host_is_counted_as_a_400(
    client: httpx.AsyncClient,
) -> None:
    before = await scrape(client)
    refused = await client.get("/api/v1/auth/me", headers={"Host": "evil.example"})
    after = await scrape(client)

    assert "host" in assert_problem(refused, 400)["detail"].lower()
    assert moved(before, after, COUNTED, route="<unmatched>", method="GET", status="400") == 1
    assert moved(before, after, COUNTED, route="/api/v1/auth/me", method="GET", status="400") == 0


async def test_the_websocket_gauge_counts_an_open_stream_and_drops_it_on_close(
    settings: Settings,
) -> None:
    gauge = key("flint_ws_connections")
    overrides = {"stream_poll_seconds": 0.0, "stream_ping_seconds": 0.0}
    async with serving(settings.model_copy(update=overrides)) as served:
        carol = await sign_up(served.http, "carol@example.com")

        async def connections() -> float:
            response = await served.http.get("/metrics")
            assert response.status_code == 200, response.text
            return parse(response.text).get(gauge, 0.0)

        assert await connections() == 0
        async with open_socket(served.url(carol.token)) as ws:
            assert (await receive(ws))["type"] == "ready"
            assert await connections() == 1
        for _ in range(500):  # the server notices the close on its side, then lets go
            if await connections() == 0:
                break
            await asyncio.sleep(0.01)
        assert await connections() == 0
