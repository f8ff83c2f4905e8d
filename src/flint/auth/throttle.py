"""Failed-login throttling per email and per client IP, on the `limits` library's moving window."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from flint.errors import TooManyRequests


class LoginThrottle:
    def __init__(
        self, storage: Storage, *, per_email: int, per_ip: int, window_minutes: int
    ) -> None:
        self._limiter = MovingWindowRateLimiter(storage)
        self._email = RateLimitItemPerMinute(per_email, window_minutes, namespace="login-email")
        self._ip = RateLimitItemPerMinute(per_ip, window_minutes, namespace="login-ip")

    async def check(self, email: str, ip: str) -> None:
        """Refuse before verifying the password once either budget of failures is spent."""
        for item, key in ((self._email, email.lower()), (self._ip, ip)):
            if not await self._limiter.test(item, key):
                stats = await self._limiter.get_window_stats(item, key)
                retry_after = math.ceil(stats.reset_time - time.time())
                raise TooManyRequests(
                    "Too many failed sign-in attempts; try again later.", retry_after=retry_after
                )

    async def record_failure(self, email: str, ip: str) -> None:
        await self._limiter.hit(self._email, email.lower())
        await self._limiter.hit(self._ip, ip)
