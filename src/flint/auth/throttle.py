"""Failed-login throttling that slows guessing down without letting anyone lock a user out.

Counted on the `limits` library's moving windows (in Redis when configured, so every API
process shares them), over ``window_minutes``:

* one address guessing one account: ``per_pair`` failures, then 429 for that pair;
* one address guessing many accounts: ``per_ip`` failures, then 429 for the address;
* many addresses guessing one account: past ``per_email`` failures the account is not locked,
  its attempts are spaced out instead: each further failure makes the next attempt wait twice
  as long (1 s, 2 s, 4 s, ... at most the window). Addresses that signed in to the account
  within ``known_days`` skip that wait, so the user keeps getting in from home while someone
  elsewhere hammers their email.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from flint.errors import TooManyRequests

TOO_MANY = "Too many failed sign-in attempts; try again later."
WAIT_KEY = "flint-login-wait/{email}"
"""Set while the account's attempts must wait; it expires when they may go on."""
EXCESS_KEY = "flint-login-excess/{email}"
"""Failures past ``per_email``: the wait doubles with each."""
KNOWN_KEY = "flint-login-known/{ip}/{email}"
"""An address that signed in to the account lately."""


class LoginThrottle:
    def __init__(
        self,
        storage: Storage,
        *,
        per_pair: int,
        per_ip: int,
        per_email: int,
        window_minutes: int,
        known_days: int = 30,
    ) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._pair = RateLimitItemPerMinute(per_pair, window_minutes, namespace="login-pair")
        self._ip = RateLimitItemPerMinute(per_ip, window_minutes, namespace="login-ip")
        self._email = RateLimitItemPerMinute(per_email, window_minutes, namespace="login-email")
        self._window = window_minutes * 60
        self._known = known_days * 86400

    async def check(self, email: str, ip: str) -> None:
        """Refuse before verifying the password when a budget is spent or the account's
        attempts must wait (unless ``ip`` is one the account signed in from lately)."""
        email = email.lower()
        for item, keys in ((self._pair, (ip, email)), (self._ip, (ip,))):
            if not await self._limiter.test(item, *keys):
                stats = await self._limiter.get_window_stats(item, *keys)
                raise TooManyRequests(
                    TOO_MANY, retry_after=math.ceil(stats.reset_time - time.time())
                )
        wait = WAIT_KEY.format(email=email)
        if await self._storage.get(wait) and not await self._is_known(email, ip):
            until = await self._storage.get_expiry(wait)
            raise TooManyRequests(TOO_MANY, retry_after=_seconds_until(until))

    async def record_failure(self, email: str, ip: str) -> None:
        email = email.lower()
        await self._limiter.hit(self._pair, ip, email)
        await self._limiter.hit(self._ip, ip)
        if await self._limiter.hit(self._email, email):
            return
        excess = await self._storage.incr(EXCESS_KEY.format(email=email), self._window)
        delay = min(2 ** min(excess - 1, 32), self._window)
        await self._storage.incr(WAIT_KEY.format(email=email), delay)

    async def record_success(self, email: str, ip: str) -> None:
        """Remember ``ip`` as one the account signs in from, for ``known_days`` from now."""
        if not self._known:
            return
        key = KNOWN_KEY.format(ip=ip, email=email.lower())
        await self._storage.clear(key)  # restart its expiry
        await self._storage.incr(key, self._known)

    async def _is_known(self, email: str, ip: str) -> bool:
        return bool(self._known and await self._storage.get(KNOWN_KEY.format(ip=ip, email=email)))


def _seconds_until(moment: float) -> int:
    return math.ceil(moment - time.time())


class ResetThrottle:
    """Password-reset requests per email and per address, an hour each: every request for an
    account mails it a live link, so unthrottled anyone could flood a mailbox with them. The
    answer is the same 429 for any email, with or without an account."""

    def __init__(self, storage: Storage, *, per_email: int, per_ip: int) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._email = RateLimitItemPerHour(per_email, namespace="reset-email")
        self._ip = RateLimitItemPerHour(per_ip, namespace="reset-ip")

    async def hit(self, email: str, ip: str) -> None:
        """Count one request, or refuse it (uncounted) when a budget is spent."""
        for item, key in ((self._ip, ip), (self._email, email.lower())):
            if not await self._limiter.hit(item, key):
                stats = await self._limiter.get_window_stats(item, key)
                raise TooManyRequests(
                    "Too many password-reset requests; try again later.",
                    retry_after=_seconds_until(stats.reset_time),
                )
