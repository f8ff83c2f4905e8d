"""Failures of an outside vendor (a market-data feed today; brokerages and banks later), as
opposed to answers about what was asked for.

An unknown symbol or account is an answer, which each feature models itself; these say the
vendor could not give one. ``reason`` is short and safe to show a user; details go to the logs
and ``__cause__``.
"""

from __future__ import annotations


class ProviderError(Exception):
    """A vendor call failed; ``provider`` names the vendor, ``reason`` says why in plain words."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason


class ProviderThrottled(ProviderError):
    """Our budget with the vendor is spent, or the vendor said so; ``retry_after`` in seconds
    when known. Callers should back off or fall back, not retry at once."""

    def __init__(self, provider: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(provider, reason)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """The vendor is down, slow or failing (timeouts, 5xx, an open circuit)."""

    def __init__(self, provider: str, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(provider, reason)
        self.retry_after = retry_after


class ProviderGarbage(ProviderError):
    """The vendor answered with data we refuse to pass on: not JSON, missing fields, NaN,
    non-positive prices or bars whose high and low do not contain their open and close."""
