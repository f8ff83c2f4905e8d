"""Access tokens issued by Auth0, checked against the tenant's published keys.

An Auth0 access token is an RS256 JWT: its key is found by the header's ``kid`` in
``https://{domain}/.well-known/jwks.json``. The keys are fetched once and kept; a token naming a
``kid`` not among them (the tenant rotated its key) fetches them again, at most once a minute,
so a stream of forged ``kid``s cannot turn into a stream of requests to Auth0. The algorithm is
pinned to RS256 (an HS256 token "signed" with the public key is refused), and ``iss``, ``aud``,
``exp`` and ``nbf`` are checked. Any defect is the same 401, so the reason never leaks.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import structlog

from flint.errors import ServiceUnavailable, Unauthorized
from flint.kit.http import system_tls

log = structlog.get_logger(__name__)

ALGORITHM = "RS256"
LEEWAY_SECONDS = 5
REFRESH_SECONDS = 60.0
"""The least time between two fetches of the keys."""
INVALID = "The access token is invalid or has expired."
USERINFO_UNAVAILABLE = "Auth0 did not answer who you are; try again in a moment."


@dataclass(frozen=True)
class Auth0Claims:
    """Who an Auth0 token names: ``sub`` always; ``email`` when the tenant adds it."""

    sub: str
    email: str | None
    email_verified: bool
    issued_at: int | None = None
    """The token's ``iat`` (unix seconds), when it has one."""


class Auth0Verifier:
    def __init__(
        self,
        domain: str,
        audience: str,
        *,
        client: httpx.AsyncClient | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        base_url: str | None = None,
    ) -> None:
        self.domain = domain.removeprefix("https://").rstrip("/")
        self.issuer = f"https://{self.domain}/"
        self.audience = audience
        self.jwks_url = f"{(base_url or self.issuer).rstrip('/')}/.well-known/jwks.json"
        self.userinfo_url = f"{(base_url or self.issuer).rstrip('/')}/userinfo"
        self.refresh_seconds = refresh_seconds
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=5.0), verify=system_tls()
        )
        self._owns_client = client is None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    @staticmethod
    def looks_like(token: str) -> bool:
        """Whether ``token`` is shaped like an Auth0 token (an RS256 JWT); cheap, unverified."""
        try:
            return jwt.get_unverified_header(token).get("alg") == ALGORITHM
        except jwt.PyJWTError:
            return False

    async def verify(self, token: str) -> Auth0Claims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized(INVALID) from exc
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthorized(INVALID)
        key = await self._key(kid)
        if key is None:
            raise Unauthorized(INVALID)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["sub", "exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(INVALID) from exc
        email = claims.get("email")
        return Auth0Claims(
            sub=str(claims["sub"]),
            email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
            email_verified=claims.get("email_verified") is True,
            issued_at=claims["iat"] if isinstance(claims.get("iat"), int) else None,
        )

    async def userinfo(self, token: str) -> dict[str, Any]:
        """The tenant's profile of the token's user (``GET /userinfo`` with the token): what
        the access token itself may not carry (email, email_verified, name). Only for a token
        that `verify` accepted; Auth0 rate-limits this endpoint, so it is asked on first sight
        of a user only."""
        try:
            response = await self._client.get(
                self.userinfo_url, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.HTTPError as exc:
            log.warning("auth0_userinfo_unavailable", error=type(exc).__name__)
            raise ServiceUnavailable(USERINFO_UNAVAILABLE) from exc
        if response.status_code == 401:
            raise Unauthorized(INVALID)
        try:
            response.raise_for_status()
            found = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("auth0_userinfo_unavailable", status=response.status_code)
            raise ServiceUnavailable(USERINFO_UNAVAILABLE) from exc
        if not isinstance(found, dict):
            raise ServiceUnavailable(USERINFO_UNAVAILABLE)
        return found

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid in self._keys:  # fetched while this call waited
                return self._keys[kid]
            now = time.monotonic()
            if self._fetched_at is not None and now - self._fetched_at < self.refresh_seconds:
                return None  # an unknown kid within a minute of the last fetch: no new request
            self._fetched_at = now
            await self._fetch()
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        """Replace the keys with the tenant's; on failure keep the ones held (logged)."""
        try:
            response = await self._client.get(self.jwks_url)
            response.raise_for_status()
            found = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            log.warning("auth0_jwks_unavailable", error=type(exc).__name__)
            return
        self._keys = {
            key.key_id: key
            for key in found.keys
            if key.key_id and key.algorithm_name in (ALGORITHM, None)
        }
