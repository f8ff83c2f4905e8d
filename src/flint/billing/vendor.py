"""What billing knows of Stripe without loading its library (which `gateway` loads only on a
server with billing): the failures a call may end in, and a subscription as Stripe told it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flint.kit.vendor_errors import ProviderError
from flint.webhooks import WebhookRefused

PROVIDER = "stripe"

__all__ = ["PROVIDER", "Snapshot", "StripeRefused", "WebhookRefused"]


class StripeRefused(ProviderError):
    """Stripe answered that the request cannot be done (4xx); ``code`` and ``param`` are its
    error's (``resource_missing``, ``customer``)."""

    def __init__(self, reason: str, *, code: str | None, param: str | None) -> None:
        super().__init__(PROVIDER, reason)
        self.code = code
        self.param = param


@dataclass(frozen=True)
class Snapshot:
    """A subscription as Stripe described it at ``version`` (unix seconds, Stripe's clock)."""

    data: dict[str, Any]
    version: int
    fetched: bool
    """Read from Stripe just now (the state then), rather than carried by an event (a state
    of the event's time, which a later delivery of the same second may contradict)."""
