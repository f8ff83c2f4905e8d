"""Teller's wire: the mutual-TLS connection, the pinned ``Teller-Version``, the access token as
the HTTP Basic username, and Teller's error answers read into Flint's errors."""

from __future__ import annotations

import json
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import httpx
from limits.aio.storage import Storage
from purgatory import AsyncCircuitBreakerFactory

from flint.brokerage.types import AccountGone
from flint.kit import vendor_status
from flint.kit.http import VendorClient, VendorPolicy
from flint.kit.vendor_errors import ProviderError, ProviderGarbage

NAME = "teller"
"""The vendor's name in errors, logs, rate-limit keys and the circuit breaker."""
DEFAULT_BASE_URL = "https://api.teller.io"
DEFAULT_VERSION = "2020-10-12"
DEFAULT_POLICY = VendorPolicy(
    connect_timeout=10.0,
    read_timeout=30.0,
    attempts=3,
    backoff_initial=2.0,
    backoff_max=10.0,
)
"""Patient: Teller's first transactions call may time out while the bank's data loads, and its
docs say to wait a few seconds and try again."""

GONE = frozenset({401, 403, 404, 410})
"""The token or the account is no longer good (no, invalid or revoked token; unknown account or
disconnected enrollment; closed account); the caller says which refusal: LinkRefused or
AccountGone."""


class TellerClient:
    """HTTP to Teller as the application (the certificate pair); each call names the enrollment
    by its access token, which goes only into the ``Authorization`` header."""

    def __init__(
        self,
        *,
        certificate: Path,
        private_key: Path,
        base_url: str,
        version: str,
        ca_bundle: Path | None,
        policy: VendorPolicy | None,
        storage: Storage | None,
        breakers: AsyncCircuitBreakerFactory | None,
    ) -> None:
        policy = policy or DEFAULT_POLICY
        if policy.attempts < 2:
            # Teller's first transactions call may time out while the bank's data loads.
            policy = replace(policy, attempts=2)
        self._http = VendorClient(
            NAME,
            base_url,
            policy,
            headers={"Teller-Version": version, "Accept": "application/json"},
            storage=storage,
            breakers=breakers,
            verify=_tls_context(certificate, private_key, ca_bundle),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(
        self, path: str, token: str, params: dict[str, str] | None = None
    ) -> httpx.Response:
        response = await self._http.request("GET", path, params=params, auth=(token, ""))
        return self._certificate_checked(response)

    async def delete(self, path: str, token: str) -> httpx.Response:
        response = await self._http.request("DELETE", path, auth=(token, ""))
        return self._certificate_checked(response)

    def _certificate_checked(self, response: httpx.Response) -> httpx.Response:
        """Teller answers a request that arrives without the application's client certificate
        with HTTP 400 ``bad_request`` ("Missing certificate: ..."): Flint's configuration is at
        fault, not the link, and waiting will not fix it. Any other answer proves the
        certificate was accepted."""
        if response.status_code == httpx.codes.BAD_REQUEST and _certificate_refused(response):
            raise vendor_status.report(
                NAME,
                f"{self.error_message(response)} Check FLINT_TELLER_CERTIFICATE_PATH and "
                "FLINT_TELLER_PRIVATE_KEY_PATH (and that no proxy strips the certificate)",
            )
        vendor_status.clear(NAME)
        return response

    async def data(
        self, path: str, token: str, what: str, params: dict[str, str] | None = None
    ) -> Any:
        """GET a resource of a linked account: the JSON body, or AccountGone."""
        response = await self.get(path, token, params)
        if response.status_code in GONE:
            raise AccountGone(NAME, self.error_message(response))
        return self.body(response, what)

    def body(self, response: httpx.Response, what: str) -> Any:
        if response.status_code != httpx.codes.OK:
            self.unexpected(response)
        try:
            return json.loads(response.text)
        except ValueError:
            raise ProviderGarbage(NAME, f"{what} is not valid JSON") from None

    def unexpected(self, response: httpx.Response) -> NoReturn:
        status = response.status_code
        raise ProviderError(
            NAME, f"unexpected answer (HTTP {status}): {self.error_message(response)}"
        )

    def error_message(self, response: httpx.Response) -> str:
        """Teller's ``error.message`` (safe to show), or the status when there is none."""
        try:
            error = json.loads(response.text).get("error")
            message = error.get("message") if isinstance(error, dict) else None
        except (ValueError, AttributeError):
            message = None
        if isinstance(message, str) and message.strip():
            return message.strip()[:200]
        return f"HTTP {response.status_code}"


def _certificate_refused(response: httpx.Response) -> bool:
    try:
        error = json.loads(response.text).get("error")
    except (ValueError, AttributeError):
        return False
    if not isinstance(error, dict) or error.get("code") != "bad_request":
        return False
    return "certificate" in str(error.get("message", "")).lower()


def _tls_context(certificate: Path, private_key: Path, ca_bundle: Path | None) -> ssl.SSLContext:
    """A client context presenting the application's certificate, trusting the public CAs
    (httpx's bundle) or only ``ca_bundle``."""
    if ca_bundle is not None:
        context = ssl.create_default_context(cafile=str(ca_bundle))
    else:
        context = httpx.create_ssl_context()
    context.load_cert_chain(str(certificate), str(private_key))
    return context
