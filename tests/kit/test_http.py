"""The vendor HTTP kit against a local stub: retries, timeouts, circuit breaker, rate limit."""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from limits.aio.storage import MemoryStorage, Storage
from limits.storage import storage_from_string
from purgatory import AsyncCircuitBreakerFactory, AsyncRedisUnitOfWork
from purgatory.service._async.repository import AsyncRedisRepository
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from flint.kit.http import VendorClient, VendorPolicy, retry_after_seconds, system_tls
from flint.kit.vendor_errors import ProviderThrottled, ProviderUnavailable
from tests.conftest import service_url
from tests.stubs.fixtures import Closing
from tests.stubs.server import HOLD, RunningStub, StubControl, closed_port, stub_app

FAST = VendorPolicy(
    connect_timeout=1.0,
    read_timeout=1.0,
    attempts=3,
    backoff_initial=0.01,
    backoff_max=0.05,
    retry_after_cap=5.0,
    breaker_threshold=100,
    breaker_recovery=30.0,
)


def _vendor_app() -> Starlette:
    """``GET /thing`` answers 200 JSON, or as the scenario says: ``status:<code>[:<retry>]``
    (with a Retry-After of ``retry`` seconds) or ``slow``."""
    control = StubControl()

    async def thing(request: Request) -> Response:
        scenario = control.record(request)
        if scenario == "slow":
            await control.pause()
        if scenario.startswith("status:"):
            _, code, *retry = scenario.split(":")
            headers = {"Retry-After": retry[0]} if retry else {}
            return PlainTextResponse(f"HTTP {code}", status_code=int(code), headers=headers)
        body = (await request.body()).decode()
        echo = {
            "method": request.method,
            "body": body,
            "auth": request.headers.get("authorization"),
        }
        return JSONResponse({"ok": True, "n": len(control.requests), **echo})

    methods = ["GET", "POST", "PUT", "DELETE"]
    return stub_app([Route("/thing", thing, methods=methods)], control)


@pytest.fixture(scope="module")
def served_app() -> Starlette:
    return _vendor_app()


@pytest.fixture
def client_for(
    stub: RunningStub, control: StubControl, closing: Closing
) -> Callable[..., VendorClient]:
    def build(provider: str = "acme", base_url: str | None = None, **policy: Any) -> VendorClient:
        storage, breakers = policy.pop("storage", None), policy.pop("breakers", None)
        return closing(
            VendorClient(
                provider,
                base_url or stub.url,
                replace(FAST, **policy),
                storage=storage,
                breakers=breakers,
            )
        )

    return build


async def test_success_takes_one_request_and_returns_the_body(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    response = await client_for().get("/thing", {"q": "1"})
    assert response.json() == {"ok": True, "n": 1, "method": "GET", "body": "", "auth": None}
    assert control.count(q="1") == 1


async def test_5xx_is_retried_until_it_succeeds(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:500", times=2)
    response = await client_for().get("/thing")
    assert response.json()["n"] == 3
    assert control.count() == 3


async def test_a_post_that_fails_is_not_sent_again_unless_the_caller_says_it_is_safe(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:502", times=1)
    with pytest.raises(ProviderUnavailable):
        await client_for().request("POST", "/thing", content=b"{}")
    assert control.count() == 1  # it may have been carried out: never blindly repeated

    control.set("status:502", times=1)
    response = await client_for().request("POST", "/thing", content=b'{"a":1}', retry=True)
    assert response.json()["method"] == "POST"
    assert response.json()["body"] == '{"a":1}'
    assert control.count() == 3


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_idempotent_methods_are_retried_like_get(
    client_for: Callable[..., VendorClient], control: StubControl, method: str
) -> None:
    control.set("status:503", times=2)
    response = await client_for().request(method, "/thing")
    assert response.json()["method"] == method
    assert control.count() == 3


async def test_request_headers_and_basic_auth_reach_the_vendor(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    response = await client_for().request(
        "GET", "/thing", headers={"Teller-Version": "2020-10-12"}, auth=("token_abc", "")
    )
    assert response.json()["auth"] == "Basic dG9rZW5fYWJjOg=="  # base64("token_abc:")
    assert control.requests[-1].headers["teller-version"] == "2020-10-12"


async def test_5xx_on_every_attempt_is_unavailable(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:503")
    with pytest.raises(ProviderUnavailable) as caught:
        await client_for(attempts=4).get("/thing")
    assert caught.value.provider == "acme"
    assert caught.value.reason == "the provider failed (HTTP 503)"
    assert control.count() == 4


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_4xx_is_returned_without_retry(
    client_for: Callable[..., VendorClient], control: StubControl, status: int
) -> None:
    control.set(f"status:{status}")
    response = await client_for().get("/thing")
    assert (response.status_code, response.text) == (status, f"HTTP {status}")
    assert control.count() == 1


@pytest.mark.parametrize("status", [501, 505])
async def test_a_5xx_that_will_never_change_is_returned_without_retry(
    client_for: Callable[..., VendorClient], control: StubControl, status: int
) -> None:
    # 501 Not Implemented: e.g. SnapTrade's order listing at a brokerage that has none.
    control.set(f"status:{status}")
    response = await client_for().get("/thing")
    assert (response.status_code, response.text) == (status, f"HTTP {status}")
    assert control.count() == 1


async def test_429_retry_after_is_waited_for_then_retried(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:429:1", times=1)
    started = time.monotonic()
    response = await client_for().get("/thing")
    assert response.json()["ok"] is True
    assert time.monotonic() - started >= 0.95
    assert control.count() == 2


async def test_retry_after_beyond_the_cap_fails_at_once(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:429:3600")
    started = time.monotonic()
    with pytest.raises(ProviderThrottled) as caught:
        await client_for(retry_after_cap=5.0).get("/thing")
    assert caught.value.retry_after == 3600
    assert time.monotonic() - started < 1
    assert control.count() == 1


async def test_429_on_every_attempt_is_throttled(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:429")
    with pytest.raises(ProviderThrottled) as caught:
        await client_for(attempts=2).get("/thing")
    assert caught.value.reason == "the provider is rate limiting us"
    assert control.count() == 2


async def test_read_timeout_is_honoured_and_retried(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("slow", delay=HOLD)  # no answer until the test is over
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable) as caught:
        await client_for(read_timeout=0.2, attempts=2).get("/thing")
    assert caught.value.reason == "the provider timed out"
    # Two 0.2 s waits: any timeout but the policy's (FAST's 1 s, httpx's 5 s, the default
    # policy's 10 s) would take at least 2 s, however idle the machine.
    assert time.monotonic() - started < 2 * FAST.read_timeout
    assert control.count() == 2


async def test_refused_connection_is_unavailable(
    client_for: Callable[..., VendorClient],
) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        await client_for(base_url=closed_port(), attempts=2).get("/thing")
    assert caught.value.reason == "the provider could not be reached"


async def test_circuit_opens_after_threshold_failures_and_fails_fast(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:500")
    client = client_for(attempts=1, breaker_threshold=2, breaker_recovery=30)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable, match="HTTP 500"):
            await client.get("/thing")
    for _ in range(3):
        with pytest.raises(ProviderUnavailable) as caught:
            await client.get("/thing")
        assert caught.value.reason == "temporarily unavailable after repeated failures"
        assert 0 < (caught.value.retry_after or 0) <= 30
    assert control.count() == 2


async def test_open_circuit_lets_a_request_through_after_recovery_and_closes_on_success(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:500")
    client = client_for(attempts=1, breaker_threshold=2, breaker_recovery=0.3)
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            await client.get("/thing")
    assert control.count() == 2
    control.set("success")
    await asyncio.sleep(0.35)
    assert (await client.get("/thing")).json()["ok"] is True
    assert (await client.get("/thing")).json()["ok"] is True
    assert control.count() == 4


async def test_failure_while_half_open_reopens_the_circuit_at_once(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:500")
    client = client_for(attempts=1, breaker_threshold=2, breaker_recovery=0.3)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await client.get("/thing")
    await asyncio.sleep(0.35)
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        await client.get("/thing")
    with pytest.raises(ProviderUnavailable, match="repeated failures"):
        await client.get("/thing")
    assert control.count() == 3


async def test_client_errors_and_throttling_do_not_open_the_circuit(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    client = client_for(attempts=1, breaker_threshold=2)
    control.set("status:404")
    for _ in range(3):
        assert (await client.get("/thing")).status_code == 404
    control.set("status:429")
    for _ in range(3):
        with pytest.raises(ProviderThrottled):
            await client.get("/thing")
    control.set("success")
    assert (await client.get("/thing")).status_code == 200
    assert control.count() == 7


async def test_rate_limit_refuses_the_sixth_call_without_touching_the_vendor(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    client = client_for(rate_limits="5/minute;25/day")
    for _ in range(5):
        await client.get("/thing")
    with pytest.raises(ProviderThrottled) as caught:
        await client.get("/thing")
    assert "5 per 1 minute" in caught.value.reason
    assert 0 < (caught.value.retry_after or 0) <= 60
    assert control.count() == 5


async def test_every_rate_window_is_enforced(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    client = client_for(rate_limits="2/second;3/day")
    await client.get("/thing")
    await client.get("/thing")
    with pytest.raises(ProviderThrottled, match="2 per 1 second"):
        await client.get("/thing")
    await asyncio.sleep(1.05)
    await client.get("/thing")
    await asyncio.sleep(1.05)
    with pytest.raises(ProviderThrottled, match="3 per 1 day") as caught:
        await client.get("/thing")
    assert (caught.value.retry_after or 0) > 80_000
    assert control.count() == 3


async def test_clients_sharing_a_storage_share_one_budget_per_provider(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    storage = MemoryStorage()
    first = client_for("acme", rate_limits="3/minute", storage=storage)
    second = client_for("acme", rate_limits="3/minute", storage=storage)
    other = client_for("globex", rate_limits="3/minute", storage=storage)
    await first.get("/thing")
    await first.get("/thing")
    await second.get("/thing")
    with pytest.raises(ProviderThrottled):
        await second.get("/thing")
    await other.get("/thing")
    assert control.count() == 4


async def test_retries_spend_the_request_budget(
    client_for: Callable[..., VendorClient], control: StubControl
) -> None:
    control.set("status:500")
    with pytest.raises(ProviderThrottled):
        await client_for(rate_limits="2/minute", attempts=3).get("/thing")
    assert control.count() == 2


def test_malformed_rate_limit_spec_is_refused() -> None:
    with pytest.raises(ValueError, match="fortnight"):
        VendorClient("acme", "http://127.0.0.1", VendorPolicy(rate_limits="5/fortnight"))


def test_zero_attempts_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        VendorClient("acme", "http://127.0.0.1", VendorPolicy(attempts=0))


async def test_clients_share_one_tls_context_of_the_public_cas() -> None:
    """Each client loading the CA bundle again cost 30-40 ms of CPU (one per SMS sent)."""
    async with (
        VendorClient("acme", "https://127.0.0.1") as first,
        VendorClient("other", "https://127.0.0.1") as second,
    ):
        contexts = {id(client._client._transport._pool._ssl_context) for client in (first, second)}  # type: ignore[attr-defined]
    assert contexts == {id(system_tls())}
    assert system_tls().verify_mode == ssl.CERT_REQUIRED
    assert system_tls().get_ca_certs()  # the public CAs are loaded


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    header: str | None, expected: float | None
) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert retry_after_seconds(header, now) == expected


async def test_mock_transport_can_stand_in_for_the_network() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"via": "mock"})

    async with VendorClient(
        "acme", "https://vendor.invalid", FAST, transport=httpx.MockTransport(handler)
    ) as client:
        response = await client.get("/thing", {"a": "b"})
    assert response.json() == {"via": "mock"}
    assert seen == ["https://vendor.invalid/thing?a=b"]


@dataclass
class Process:
    """What one API or worker process holds when Redis is configured."""

    storage: Storage
    breakers: AsyncCircuitBreakerFactory


@dataclass
class SharedRedis:
    """Two processes' worth of Redis-backed state, and a provider name no other run uses (the
    Redis server may be shared)."""

    provider: str
    processes: list[Process]


@pytest.fixture
async def redis_shared() -> AsyncIterator[SharedRedis]:
    url = service_url("FLINT_TEST_REDIS_URL", "Redis")
    shared = SharedRedis(f"acme-{uuid.uuid4().hex}", [])
    for _ in range(2):
        storage = storage_from_string(f"async+{url}")
        assert isinstance(storage, Storage)
        breakers = AsyncCircuitBreakerFactory(uow=AsyncRedisUnitOfWork(url))
        await breakers.initialize()
        shared.processes.append(Process(storage, breakers))
    yield shared
    for process in shared.processes:
        contexts = process.breakers.uow.contexts
        assert isinstance(contexts, AsyncRedisRepository)
        redis: Any = contexts.redis
        await redis.delete(f"cbr::{shared.provider}", f"cbr::{shared.provider}::failure_count")
        await redis.aclose()


async def test_processes_sharing_redis_share_one_budget(
    client_for: Callable[..., VendorClient], control: StubControl, redis_shared: SharedRedis
) -> None:
    first, second = (
        client_for(redis_shared.provider, rate_limits="3/minute", storage=p.storage)
        for p in redis_shared.processes
    )
    await first.get("/thing")
    await first.get("/thing")
    await second.get("/thing")
    with pytest.raises(ProviderThrottled):
        await second.get("/thing")
    with pytest.raises(ProviderThrottled):
        await first.get("/thing")
    assert control.count() == 3


async def test_processes_sharing_redis_share_one_circuit(
    client_for: Callable[..., VendorClient], control: StubControl, redis_shared: SharedRedis
) -> None:
    first, second = (
        client_for(redis_shared.provider, attempts=1, breaker_threshold=2, breakers=p.breakers)
        for p in redis_shared.processes
    )
    control.set("status:500")
    for _ in range(2):
        with pytest.raises(ProviderUnavailable, match="HTTP 500"):
            await first.get("/thing")
    with pytest.raises(ProviderUnavailable, match="repeated failures"):
        await second.get("/thing")
    assert control.count() == 2


async def test_stub_scenarios_can_be_steered_over_http(
    stub: RunningStub, control: StubControl
) -> None:
    async with httpx.AsyncClient(base_url=stub.url) as http:
        steered = await http.post("/_scenario", json={"name": "status:418", "times": 1})
        assert steered.json() == {"scenario": "status:418", "times": 1}
        assert (await http.get("/thing")).status_code == 418
        assert (await http.get("/thing")).status_code == 200
        seen = (await http.get("/_requests")).json()
    assert [s["path"] for s in seen] == ["/thing", "/thing"]
