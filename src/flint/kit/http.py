"""The one way Flint talks HTTP to a vendor: explicit timeouts, a client-side rate limit, a
circuit breaker and retries on transient failures only.

A call goes through, in order: the breaker (fails fast while the vendor is known to be down),
then per attempt the rate limit (fails fast when the budget is spent, so a daily quota never
turns into a day-long sleep) and the request. Connect errors, timeouts, 5xx (but 501 and 505,
which say the server never will) and 429 are retried
with exponential backoff and jitter; a 429 or 503 ``Retry-After`` is honoured up to a cap, and a
longer one fails at once. Any other status is handed back for the adapter to interpret.

Rate-limit counts live in a ``limits`` storage and breaker state in a ``purgatory`` unit of
work; both default to memory and may be shared (Redis) so that several processes keep one
budget and one view of the vendor's health.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import math
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import NoReturn, Self

import httpx
import structlog
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.messages.base import Event
from purgatory.domain.messages.events import ContextChanged
from purgatory.domain.model import OpenedState
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from flint import metrics
from flint.kit.vendor_errors import ProviderError, ProviderThrottled, ProviderUnavailable

log = structlog.get_logger(__name__)

# httpx logs every request's full URL at INFO, query string included: vendors that take
# secrets as query parameters (SnapTrade's userSecret, Alpha Vantage's apikey) would leak
# them into the logs. Flint logs its vendor calls itself, without them.
for _noisy in ("httpx", "httpcore"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)

_breakers_seen: dict[str, tuple[str, float | None]] = {}
"""Each vendor's breaker state in this process as last reported: (state, opened_at)."""


def breaker_state(provider: str) -> tuple[str, float | None]:
    """``closed``, ``opened`` or ``half-opened`` as this process last saw the vendor's breaker
    (``closed`` before its first call), and when it opened (epoch seconds); what `/readyz`
    reports without calling the vendor."""
    return _breakers_seen.get(provider, ("closed", None))


def _watch_breaker(name: str, kind: str, event: Event) -> None:
    """A purgatory listener: keep the breaker's state for `/readyz` and the metrics."""
    if kind == "state_changed" and isinstance(event, ContextChanged):
        _breakers_seen[name] = (event.state, event.opened_at)
        metrics.VENDOR_BREAKER_OPEN.labels(name).set(0 if event.state == "closed" else 1)


_TRANSIENT_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclass(frozen=True, slots=True)
class VendorPolicy:
    """How patiently to treat one vendor. ``rate_limits`` uses the ``limits`` notation,
    several windows separated by ``;`` (e.g. ``"5/minute;25/day"``); empty means unlimited."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    attempts: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    retry_after_cap: float = 30.0
    breaker_threshold: int = 5
    breaker_recovery: float = 30.0
    rate_limits: str = ""

    def windows(self) -> list[RateLimitItem]:
        """The parsed rate-limit windows; ValueError names a malformed spec."""
        return parse_many(self.rate_limits) if self.rate_limits.strip() else []


_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_FINAL_5XX = frozenset({501, 505})
"""5xx answers that say what the server will never do (Not Implemented, HTTP Version Not
Supported): returned to the caller like a 4xx, never retried."""


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    path: str
    params: dict[str, str]
    content: bytes | None
    headers: dict[str, str]
    auth: httpx.Auth | tuple[str, str] | None


class _RetryableStatus(Exception):
    """A 5xx or 429 answer, raised inside the retry loop so tenacity sees it."""

    def __init__(self, response: httpx.Response, retry_after: float | None) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@functools.cache
def system_tls() -> ssl.SSLContext:
    """The client TLS context trusting the public CAs (httpx's bundle, or ``SSL_CERT_FILE`` /
    ``SSL_CERT_DIR``), made once per process and shared by every client that needs no more:
    making one reads and parses the whole CA bundle, 30-40 ms of CPU, and httpx makes one for
    each client it builds (an SMS sent built one per message). A context is safe to share."""
    return httpx.create_ssl_context()


class VendorClient:
    """HTTP to one vendor (``provider`` names it in errors, logs, rate-limit keys and the
    breaker). Use as an async context manager or call :meth:`aclose`."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        policy: VendorPolicy | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        storage: Storage | None = None,
        breakers: AsyncCircuitBreakerFactory | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        """``verify``: an ``ssl.SSLContext`` for vendors that need more than the system's CAs
        (`system_tls`), e.g. one carrying a client certificate for mutual TLS (Teller)."""
        self.provider = provider
        self.policy = policy or VendorPolicy()
        if self.policy.attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._windows = self.policy.windows()
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())
        if breakers is None:  # a breaker of its own, closed: forget an earlier client's
            _breakers_seen.pop(provider, None)
            metrics.VENDOR_BREAKER_OPEN.labels(provider).set(0)
        self._breakers = breakers or AsyncCircuitBreakerFactory()
        if _watch_breaker not in self._breakers.listeners:
            self._breakers.add_listener(_watch_breaker)
        self._backoff = wait_exponential_jitter(
            multiplier=self.policy.backoff_initial,
            max=self.policy.backoff_max,
            jitter=self.policy.backoff_initial,
        )
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout),
            transport=transport,
            follow_redirects=False,
            verify=verify or system_tls(),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        """GET ``path``; returns any non-transient response (2xx, 3xx, 4xx other than 429).

        Raises ProviderThrottled (budget spent, or 429 beyond retries or cap) and
        ProviderUnavailable (circuit open, or timeouts/connect errors/5xx beyond retries).
        """
        return await self.request("GET", path, params=params)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request, as :meth:`get` describes. ``retry`` defaults to True for the
        idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS) and False otherwise: a POST that
        timed out may have been carried out, so only the caller can know whether sending it
        again is safe (e.g. after checking for the order it would have placed)."""
        breaker = await self._breakers.get_breaker(
            self.provider,
            threshold=self.policy.breaker_threshold,
            ttl=self.policy.breaker_recovery,
            exclude=[ProviderThrottled, asyncio.CancelledError],
        )
        call = _Call(method.upper(), path, dict(params or {}), content, dict(headers or {}), auth)
        if retry is None:
            retry = call.method in _IDEMPOTENT
        started, outcome = time.perf_counter(), "error"
        try:
            async with breaker:
                response = await self._with_retries(call, self.policy.attempts if retry else 1)
            outcome = "ok"
            return response
        except OpenedState as opened:
            outcome = "circuit_open"
            remaining = opened.opened_at + self.policy.breaker_recovery - time.time()
            raise ProviderUnavailable(
                self.provider,
                "temporarily unavailable after repeated failures",
                retry_after=max(0.0, remaining),
            ) from opened
        except ProviderThrottled:
            outcome = "throttled"
            raise
        except ProviderUnavailable:
            outcome = "unavailable"
            raise
        finally:
            metrics.VENDOR_REQUESTS.labels(self.provider, outcome).inc()
            metrics.VENDOR_DURATION.labels(self.provider).observe(time.perf_counter() - started)

    async def _with_retries(self, call: _Call, attempts: int) -> httpx.Response:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait,
            retry=retry_if_exception_type((*_TRANSIENT_TRANSPORT, _RetryableStatus)),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(call)
        except _RetryableStatus as failed:
            status = failed.response.status_code
            raise self._status_error(status, failed.retry_after) from failed
        except httpx.TimeoutException as failed:
            raise ProviderUnavailable(self.provider, "the provider timed out") from failed
        except (httpx.NetworkError, httpx.RemoteProtocolError) as failed:
            raise ProviderUnavailable(
                self.provider, "the provider could not be reached"
            ) from failed
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    async def _attempt(self, call: _Call) -> httpx.Response:
        await self._take_budget()
        response = await self._client.request(
            call.method,
            call.path,
            params=call.params,
            content=call.content,
            headers=call.headers,
            auth=call.auth if call.auth is not None else httpx.USE_CLIENT_DEFAULT,
        )
        status = response.status_code
        if status == httpx.codes.TOO_MANY_REQUESTS or (status >= 500 and status not in _FINAL_5XX):
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.policy.retry_after_cap:
                # Waiting that long inside a request helps nobody: give up at once.
                raise self._status_error(status, retry_after)
            raise _RetryableStatus(response, retry_after)
        return response

    def _status_error(self, status: int, retry_after: float | None) -> ProviderError:
        if status == httpx.codes.TOO_MANY_REQUESTS:
            reason = "the provider is rate limiting us"
            return ProviderThrottled(self.provider, reason, retry_after=retry_after)
        reason = f"the provider failed (HTTP {status})"
        return ProviderUnavailable(self.provider, reason, retry_after=retry_after)

    async def _take_budget(self) -> None:
        """Spend one request from every window, or refuse without touching the vendor."""
        key = ("vendor-http", self.provider)
        for window in self._windows:
            if not await self._limiter.test(window, *key):
                await self._refuse(window, key)
        for window in self._windows:
            if not await self._limiter.hit(window, *key):
                await self._refuse(window, key)

    async def _refuse(self, window: RateLimitItem, key: tuple[str, str]) -> NoReturn:
        stats = await self._limiter.get_window_stats(window, *key)
        retry_after = max(0.0, math.ceil(stats.reset_time - time.time()))
        raise ProviderThrottled(
            self.provider, f"request budget spent ({window})", retry_after=retry_after
        )

    def _wait(self, state: RetryCallState) -> float:
        failed = state.outcome.exception() if state.outcome else None
        if isinstance(failed, _RetryableStatus) and failed.retry_after is not None:
            return failed.retry_after
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        failed = state.outcome.exception() if state.outcome else None
        log.warning(
            "vendor_retry",
            provider=self.provider,
            attempt=state.attempt_number,
            error=repr(failed),
            wait=round(state.upcoming_sleep, 3),
        )
