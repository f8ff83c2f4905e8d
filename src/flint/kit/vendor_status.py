"""Vendors this process found misconfigured: a refused client certificate, rejected credentials,
a plan that does not match the key. Waiting does not fix these, so they are not outages for the
circuit breaker: the adapter records them here (and logs them once as ``vendor_misconfigured``),
`/readyz` names them, and the next answer that proves the configuration good clears them.

Kept per process, like the breakers' state: an API process reports what its own calls found.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import structlog

from flint.kit.vendor_errors import ProviderError

log = structlog.get_logger(__name__)


class ProviderMisconfigured(ProviderError):
    """The vendor refused Flint's configuration (credentials, certificate, plan); an operator has
    to change a setting. ``reason`` names what to fix, never the secret itself."""


@dataclass(frozen=True, slots=True)
class Misconfiguration:
    reason: str
    since: float
    """Epoch seconds of the first refusal in the current run of refusals."""


_seen: dict[str, Misconfiguration] = {}
_lock = threading.Lock()


def report(provider: str, reason: str) -> ProviderMisconfigured:
    """Record that ``provider`` refused the configuration; logs an error the first time (and
    when the reason changes). Returns the exception for the caller to raise."""
    with _lock:
        earlier = _seen.get(provider)
        if earlier is None or earlier.reason != reason:
            _seen[provider] = Misconfiguration(reason, time.time())
            fresh = True
        else:
            fresh = False
    if fresh:
        log.error("vendor_misconfigured", provider=provider, reason=reason)
    return ProviderMisconfigured(provider, reason)


def clear(provider: str) -> None:
    """The vendor accepted the configuration: forget an earlier refusal."""
    with _lock:
        earlier = _seen.pop(provider, None)
    if earlier is not None:
        log.info("vendor_configuration_accepted", provider=provider)


def misconfiguration(provider: str) -> Misconfiguration | None:
    """What this process last found wrong with ``provider``'s configuration, if anything."""
    with _lock:
        return _seen.get(provider)
