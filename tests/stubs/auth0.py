"""An Auth0 tenant's key endpoint, as Auth0 serves it: ``GET /.well-known/jwks.json`` with the
public half of each signing key, and a way for a test to rotate keys and sign tokens.

Keys are RSA keys made in the test; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.stubs.server import StubControl, stub_app


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> SigningKey:
        return cls(f"key-{uuid.uuid4().hex[:8]}", rsa.generate_private_key(65537, 2048))

    def jwk(self) -> dict[str, Any]:
        found: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return found | {"kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass
class Tenant:
    """What the stub publishes; ``published`` keys are served, ``current`` signs."""

    domain: str = "flint-test.eu.auth0.com"
    audience: str = "https://api.flint.test"
    published: list[SigningKey] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"https://{self.domain}/"

    @property
    def current(self) -> SigningKey:
        return self.published[-1]

    def rotate(self) -> SigningKey:
        """Publish a new key and sign with it (the old one stays published, as Auth0 does)."""
        key = SigningKey.new()
        self.published.append(key)
        return key

    def token(self, key: SigningKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "auth0|alice",
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        } | claims
        key = key or self.current
        return jwt.encode(
            {k: v for k, v in body.items() if v is not None},
            key.private,
            algorithm="RS256",
            headers={"kid": key.kid},
        )


def auth0_stub(tenant: Tenant, control: StubControl | None = None) -> Starlette:
    control = control or StubControl()

    async def jwks(request: Request) -> JSONResponse:
        control.record(request)
        return JSONResponse({"keys": [key.jwk() for key in tenant.published]})

    return stub_app([Route("/.well-known/jwks.json", jwks)], control)
