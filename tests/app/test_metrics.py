"""`GET /metrics` after real traffic, who may read it, and what each part of Flint counts there.
(Several processes summed into one scrape: `tests/app/test_cli.py`, through `flint run`.)"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from purgatory.domain.messages.events import ContextChanged

from flint.app.metrics import RequestCounts, count_tasks, flush_request_counts
from flint.config import Settings
from flint.jobs import celery_app
from flint.kit.cache import Lookups
from flint.kit.http import _watch_breaker
from flint.market.stream.client import Client
from flint.notifications.models import OutboxMessage
from tests.conftest import Account, assert_problem
from tests.notifications.test_outbox import free_port
from tests.stubs.server import RunningStub, run_stub
from tests.stubs.yahoo import create_app as yahoo_stub

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    sample = key(name, **labels)
    return after.get(sample, 0.0) - before.get(sample, 0.0)


@pytest.fixture(scope="module")
def yahoo() -> Iterator[RunningStub]:
    with run_stub(yahoo_stub()) as running:
        yield running


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest, yahoo: RunningStub) -> dict[str, Any]:
    yahoo.control.reset()
    marker = request.node.get_closest_marker("settings")
    own_redis: dict[str, Any] = {}
    if (redis_mark := request.node.get_closest_marker("redis")) and redis_mark.args == ("own",):
        _, port = request.getfixturevalue("private_redis")
        own_redis = {"redis_url": f"redis://127.0.0.1:{port}/0"}
    return (
        own_redis
        | {
            "market_providers": ["yahoo", "simulated"],
            "yahoo_base_url": yahoo.url,
            "yahoo_rate_limits": "",
            "vendor_read_timeout": 1.0,
            "vendor_retry_attempts": 1,
            "vendor_breaker_threshold": 1000,
        }
        | (marker.kwargs if marker else {})
    )


async def test_requests_are_counted_by_route_template_and_unmatched_urls_share_one_label(
    client: httpx.AsyncClient, alice: Account
) -> None:
    before = await scrape(client)
    me = await client.get("/api/v1/auth/me", headers=alice.headers)
    quote = await client.get("/api/v1/market/real-time/MSFT", headers=alice.headers)
    random = f"/no-such-page-{uuid.uuid4().hex}"
    missing = await client.get(random)
    after = await scrape(client)

    assert (me.status_code, quote.status_code, missing.status_code) == (200, 200, 404)
    counted = "flint_http_requests_total"
    assert moved(before, after, counted, route="/api/v1/auth/me", method="GET", status="200") == 1
    template = "/api/v1/market/real-time/{symbol}"
    assert moved(before, after, counted, route=template, method="GET", status="200") == 1
    assert moved(before, after, counted, route="<unmatched>", method="GET", status="404") == 1
    timed = "flint_http_request_duration_seconds_count"
    assert moved(before, after, timed, route=template, method="GET") == 1
    assert random not in (await client.get("/metrics")).text
    assert after[key("flint_http_requests_in_flight")] == 1  # the scrape itself


async def test_request_counts_reach_the_metrics_within_a_second_without_a_scrape(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The edge layer gathers counts and writes them on a timer (`RequestCounts.flush`), so a
    scrape from another process sees them at most a second late, and the in-flight gauge
    comes back down once the requests are over, with no scrape to move it."""

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    flush_request_counts()  # earlier tests' apps, idle now, settle their in-flight share
    route = {"route": "/api/v1/auth/me", "method": "GET"}
    counted = {**route, "status": "200"}
    before = sample("flint_http_requests_total", **counted)
    timed_before = sample("flint_http_request_duration_seconds_bucket", **route, le="+Inf")
    in_flight = sample("flint_http_requests_in_flight")
    answers = [await client.get("/api/v1/auth/me", headers=alice.headers) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200] * 3

    deadline = time.monotonic() + RequestCounts.FLUSH_SECONDS + 2
    while sample("flint_http_requests_total", **counted) - before < 3:
        assert time.monotonic() < deadline, "the counts never reached the metrics"
        await asyncio.sleep(0.05)
    timed = sample("flint_http_request_duration_seconds_bucket", **route, le="+Inf")
    assert timed - timed_before == 3
    assert sample("flint_http_requests_in_flight") == in_flight


async def test_cache_lookups_reach_the_metrics_within_a_second_without_a_scrape(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """The cache's lookups are gathered like the request counts (`Lookups`) and written on a
    timer of the loop that counted them, so another process's scrape sees them a second late at
    most."""

    def principal_lookups() -> float:
        return sum(
            REGISTRY.get_sample_value(
                "flint_cache_lookups_total", {"namespace": "principal", "result": result}
            )
            or 0.0
            for result in ("hit", "miss")
        )

    flush_request_counts()
    before = principal_lookups()
    for _ in range(3):
        assert (await client.get("/api/v1/auth/me", headers=alice.headers)).status_code == 200
    deadline = time.monotonic() + Lookups.FLUSH_SECONDS + 2
    while principal_lookups() - before < 3:
        assert time.monotonic() < deadline, "the lookups never reached the metrics"
        await asyncio.sleep(0.05)
    assert principal_lookups() - before == 3


async def test_metrics_are_not_in_the_public_openapi_document(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/metrics" not in spec["paths"]


def remote(app: FastAPI, host: str = "203.0.113.7") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://flint.example")


async def test_without_a_token_only_loopback_reads_the_metrics(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with remote(app) as outsider, remote(app, "::1") as local_v6:
        refused = await outsider.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert (await local_v6.get("/metrics")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200  # 127.0.0.1
    assert "FLINT_METRICS_TOKEN" in assert_problem(refused, 403)["detail"]


@pytest.mark.settings(metrics_token="s3cret-metrics-token")
async def test_from_elsewhere_the_metrics_need_the_bearer_token(app: FastAPI) -> None:
    async with remote(app) as outsider:
        missing = await outsider.get("/metrics")
        wrong = await outsider.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        basic = await outsider.get(
            "/metrics", headers={"Authorization": "Basic s3cret-metrics-token"}
        )
        right = await outsider.get(
            "/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}
        )
    for refused in (missing, wrong, basic):
        assert_problem(refused, 401)
        assert "flint_http_requests_total" not in refused.text
    assert right.status_code == 200
    assert "flint_http_requests_total" in right.text


async def test_quote_cache_hits_and_misses_are_counted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    before = await scrape(client)
    for _ in range(3):
        response = await client.get("/api/v1/market/real-time/AAPL", headers=alice.headers)
        assert response.status_code == 200
    after = await scrape(client)

    looked = "flint_cache_lookups_total"
    # The first request misses twice (the router's look, then the cached call's own), the
    # next two hit at the router's look.
    assert moved(before, after, looked, namespace="quote", result="miss") == 2
    assert moved(before, after, looked, namespace="quote", result="hit") == 2
    principal = moved(before, after, looked, namespace="principal", result="hit")
    principal += moved(before, after, looked, namespace="principal", result="miss")
    assert principal == 3  # each signed-in request checks its sign-in through the cache


@pytest.mark.settings(vendor_breaker_threshold=1)
async def test_a_failing_provider_moves_its_metrics_and_opens_its_breaker_in_readyz(
    client: httpx.AsyncClient, alice: Account, yahoo: RunningStub
) -> None:
    ready = (await client.get("/readyz")).json()
    assert ready["checks"]["market:yahoo"] == {
        "status": "ok",
        "detail": "circuit closed",
        "required": False,
    }
    before = await scrape(client)
    yahoo.control.set("500")

    failed_over = await client.get("/api/v1/market/real-time/MSFT", headers=alice.headers)
    fast_failed = await client.get("/api/v1/market/real-time/NVDA", headers=alice.headers)
    after = await scrape(client)
    readyz = await client.get("/readyz")

    assert [r.json()["provider"] for r in (failed_over, fast_failed)] == ["simulated"] * 2
    vendor = "flint_vendor_requests_total"
    assert moved(before, after, vendor, provider="yahoo", outcome="unavailable") == 1
    assert moved(before, after, vendor, provider="yahoo", outcome="circuit_open") == 1
    assert moved(before, after, vendor, provider="yahoo", outcome="ok") == 0
    chain = "flint_market_provider_calls_total"
    assert moved(before, after, chain, provider="yahoo", outcome="error") == 2
    assert moved(before, after, chain, provider="simulated", outcome="ok") == 2
    assert after[key("flint_vendor_circuit_open", provider="yahoo")] == 1
    assert readyz.status_code == 200  # a vendor is not required: Flint fails over
    check = readyz.json()["checks"]["market:yahoo"]
    assert check["status"] == "error"
    assert check["detail"].startswith("circuit opened")
    assert check["required"] is False


def test_a_failing_task_is_counted_as_a_failure_with_its_duration() -> None:
    count_tasks()
    name = f"tests.metrics.boom_{uuid.uuid4().hex[:8]}"

    @celery_app.task(name=name)
    def boom() -> None:
        raise ValueError("boom")

    boom.apply()
    boom.apply()
    scraped = parse_registry()

    assert scraped[key("flint_tasks_total", task=name, state="FAILURE")] == 2
    assert scraped[key("flint_task_failures_total", task=name, exception="ValueError")] == 2
    assert scraped[key("flint_task_duration_seconds_count", task=name)] == 2


def parse_registry() -> Samples:
    from prometheus_client import REGISTRY, generate_latest

    return parse(generate_latest(REGISTRY).decode())


def test_a_slow_stream_client_dropped_is_counted() -> None:
    before = parse_registry()
    client = Client(queue_size=1)
    assert client.push("first")
    assert not client.push("second")  # the queue is full: dropped
    after = parse_registry()

    assert moved(before, after, "flint_ws_slow_client_drops_total") == 1
    assert client.close_code == 1013


async def test_the_outbox_backlog_is_counted_at_scrape_time(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with app.state.runtime.sessions() as session:
        for status, channel in [("pending", "email"), ("pending", "email"), ("sent", "email")]:
            session.add(
                OutboxMessage(
                    channel=channel,
                    kind="test",
                    recipient="ada@example.com",
                    subject="s",
                    body="b",
                    status=status,
                )
            )
        session.add(
            OutboxMessage(channel="sms", kind="test", recipient="+15550100", subject="", body="b")
        )
        await session.commit()

    scraped = await scrape(client)

    assert scraped[key("flint_outbox_backlog", channel="email")] == 2
    assert scraped[key("flint_outbox_backlog", channel="sms")] == 1


@pytest.fixture
def private_redis() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A Redis of this test's own, which it may stop (the shared one must stay up)."""
    port = free_port()
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(["redis-server", *options], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.2).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("the private redis-server did not start")
            time.sleep(0.05)
    yield server, port
    if server.poll() is None:
        server.kill()
    server.wait(timeout=10)


@pytest.mark.redis("own")
async def test_readyz_names_redis_as_down_when_it_stops_and_the_rest_as_up(
    client: httpx.AsyncClient, private_redis: tuple[subprocess.Popen[bytes], int]
) -> None:
    up = await client.get("/readyz")
    assert up.status_code == 200, up.text
    assert up.json()["checks"]["redis"] == {"status": "ok", "detail": None, "required": True}

    server, port = private_redis
    server.kill()
    server.wait(timeout=10)
    down = await client.get("/readyz")

    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "error"
    checks = body["checks"]
    assert checks["redis"]["status"] == "error"
    assert checks["redis"]["required"] is True
    assert {name: check["status"] for name, check in checks.items() if name != "redis"} == {
        "database": "ok",
        "broker": "ok",
        "market:yahoo": "ok",
    }
    assert str(port) not in down.text


async def test_readyz_says_when_an_opened_breaker_has_waited_out_its_recovery(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    recovery = settings.vendor_breaker_recovery_seconds
    opened = ContextChanged(name="yahoo", state="opened", opened_at=time.time() - recovery - 5)
    try:
        _watch_breaker("yahoo", "state_changed", opened)
        waited = (await client.get("/readyz")).json()["checks"]["market:yahoo"]
        fresh = ContextChanged(name="yahoo", state="opened", opened_at=time.time())
        _watch_breaker("yahoo", "state_changed", fresh)
        failing = (await client.get("/readyz")).json()["checks"]["market:yahoo"]
    finally:
        closed = ContextChanged(name="yahoo", state="closed", opened_at=None)
        _watch_breaker("yahoo", "state_changed", closed)

    assert waited["status"] == "error"
    assert waited["detail"].endswith("the next call tries the vendor again")
    assert failing["detail"] == f"circuit opened: calls fail fast for up to {round(recovery)} s"
    assert (await client.get("/readyz")).json()["checks"]["market:yahoo"]["status"] == "ok"
