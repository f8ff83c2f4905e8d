"""The API's request limits: per signed-in user, per client address, stricter on sign-up.

A pure ASGI middleware that costs one storage round-trip per request (an `incr` of a
clock-aligned fixed window, in Redis when configured, see `flint.kit.ratelimit`):

* a request with a valid bearer token counts against its user (``user``), from any address;
* any other request counts against its client address (``ip``);
* registration and password-reset requests (POST) count against their address in ``signup``.

The caller is the token's verified subject: `TokenIssuer.verify` remembers tokens it verified,
so the route's own authentication does not verify the signature again. A forged or expired
token counts against its address, so inventing tokens does not buy fresh budgets.

Every limited answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
(seconds until the window ends; IETF draft `ratelimit-headers`); past the limit the answer is
a 429 problem with `Retry-After`. A fixed window lets a client send up to twice the limit
across a window's edge; the limits are far above what a client needs, so that is accepted
for one round-trip a request.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from limits import parse
from limits.aio.storage import Storage
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flint.app.problems import problem_response

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes: they must answer however busy a client address is."""
SIGNUP = re.compile(r"/api(?:/v1)?/auth/(?:register|reset-password)")
BEARER = b"bearer "

Subject = Callable[[str], str | None]
"""The user a bearer token was issued to, or None when it is not valid."""


@dataclass(frozen=True)
class Group:
    """One budget: ``limit`` requests per ``period`` seconds for each key under ``prefix``."""

    prefix: str
    limit: int
    period: int
    limit_header: bytes

    @classmethod
    def parse(cls, name: str, limit: str) -> Group:
        item = parse(limit)
        prefix = f"flint-api/{name}/{item.amount}/{item.get_expiry()}"
        return cls(prefix, item.amount, item.get_expiry(), str(item.amount).encode())


class ApiRateLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        storage: Storage,
        user: str,
        ip: str,
        signup: str,
        subject: Subject,
        exempt: Iterable[str] = EXEMPT,
    ) -> None:
        self.app = app
        self.storage = storage
        self.user = Group.parse("user", user)
        self.ip = Group.parse("ip", ip)
        self.signup = Group.parse("signup", signup)
        self.subject = subject
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(scope.get("root_path", ""))
        if path in self.exempt:
            await self.app(scope, receive, send)
            return
        group, key = self._budget(scope, path)
        limit, period = group.limit, group.period
        now = time.time()
        window = int(now // period)
        count = await self.storage.incr(f"{group.prefix}/{key}/{window}", period)
        reset = max(1, math.ceil((window + 1) * period - now))
        headers = [
            (b"ratelimit-limit", group.limit_header),
            (b"ratelimit-remaining", str(max(0, limit - count)).encode()),
            (b"ratelimit-reset", str(reset).encode()),
        ]
        if count > limit:
            response = problem_response(
                Request(scope),
                status=429,
                title="Too many requests",
                slug="rate-limited",
                detail=f"At most {limit} requests per {_period(period)}; try again later.",
                headers={"Retry-After": str(reset)},
            )
            response.raw_headers.extend(headers)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _budget(self, scope: Scope, path: str) -> tuple[Group, str]:
        address = scope["client"][0] if scope.get("client") else "unknown"
        if scope["method"] == "POST" and SIGNUP.fullmatch(path):
            return self.signup, address  # only what registers or sends mail spends this budget
        for name, value in scope["headers"]:
            if name == b"authorization":
                if value[:7].lower() == BEARER:
                    user = self.subject(value[7:].decode("latin-1").strip())
                    if user is not None:
                        return self.user, user
                break
        return self.ip, address


def _period(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"
