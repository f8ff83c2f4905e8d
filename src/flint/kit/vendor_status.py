"""Vendors this process found misconfigured: a refused client certificate, rejected credentials,
a plan that does not match the key. Waiting does not fix these, so they are not outages for the
circuit breaker: the adapter records them here (and logs them once as ``vendor_misconfigured``),
`/readyz` names them, and the next answer that proves the configuration good clears them.

Kept per process, like the breakers' state, and also under ``shared`` when the caller passes
it (the data dir, which the API processes and the worker share): the worker's findings (Twilio,
SMTP) then reach the API processes' `/readyz` too.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import structlog

from flint.kit.files import private_dir
from flint.kit.vendor_errors import ProviderError


def _log() -> structlog.stdlib.BoundLogger:
    """A logger made at the call (rare calls), so it follows the logging configuration of the
    moment rather than the one of the first call."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(__name__)
    return logger


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


def report(provider: str, reason: str, shared: Path | None = None) -> ProviderMisconfigured:
    """Record that ``provider`` refused the configuration (also under ``shared``, a directory
    other processes read); logs an error the first time and when the reason changes. Returns
    the exception for the caller to raise."""
    with _lock:
        earlier = _seen.get(provider)
        fresh = earlier is None or earlier.reason != reason
        if fresh:
            _seen[provider] = Misconfiguration(reason, time.time())
        found = _seen[provider]
    if fresh:
        _log().error("vendor_misconfigured", provider=provider, reason=reason)
    if shared is not None:
        _write(_path(shared, provider), found)
    return ProviderMisconfigured(provider, reason)


def clear(provider: str, shared: Path | None = None) -> None:
    """The vendor accepted the configuration: forget an earlier refusal (here and under
    ``shared``)."""
    with _lock:
        earlier = _seen.pop(provider, None)
    if earlier is not None:
        _log().info("vendor_configuration_accepted", provider=provider)
    if shared is not None:
        with suppress(FileNotFoundError):
            _path(shared, provider).unlink()


def misconfiguration(provider: str, shared: Path | None = None) -> Misconfiguration | None:
    """What this process (or, with ``shared``, any process sharing that directory) last found
    wrong with ``provider``'s configuration, if anything."""
    with _lock:
        found = _seen.get(provider)
    if found is not None or shared is None:
        return found
    try:
        data = json.loads(_path(shared, provider).read_text())
        return Misconfiguration(str(data["reason"]), float(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _path(shared: Path, provider: str) -> Path:
    return shared / "vendor-status" / f"{provider}.json"


def _write(path: Path, found: Misconfiguration) -> None:
    """Replace ``path`` atomically (readers never see half a file)."""
    private_dir(path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    with os.fdopen(handle, "w") as file:
        json.dump({"reason": found.reason, "since": found.since}, file)
    os.replace(temporary, path)
