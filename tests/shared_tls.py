"""One TLS context of the public CAs per test process for the tests' own HTTP clients.

httpx makes a context for every client (and every ``httpx.get``) it builds, reading and parsing
the whole CA bundle: 30-40 ms of CPU each, and the tests build thousands (each poll of a
process's ``/readyz`` was one). Flint's own clients share `flint.kit.http.system_tls`; this
gives the tests' clients the same one. Only the default (the public CAs, no client
certificate) is shared: a client given a context or a certificate of its own keeps it."""

from __future__ import annotations

from typing import Any

import httpx._transports.default as transports

from flint.kit.http import system_tls

_create = transports.create_ssl_context


def shared_default_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
    if verify is True and cert is None and trust_env:
        return system_tls()
    return _create(verify=verify, cert=cert, trust_env=trust_env)


def share_tls_context() -> None:
    transports.create_ssl_context = shared_default_context  # type: ignore[assignment]
