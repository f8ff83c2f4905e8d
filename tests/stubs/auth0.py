"""An Auth0 tenant's key endpoint, as Auth0 serves it: ``GET /.well-known/jwks.json`` with the
public half of each signing key, and a way for a test to rotate keys and sign tokens; and
``GET /userinfo``, which answers the profile of the user a valid access token (sent as
``Authorization: Bearer``) names, 401 for any other token, and 429 in the ``rate_limited``
scenario (Auth0 rate-limits it per user).

Keys are RSA keys made in the test; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_encode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.stubs.server import RunningStub, StubControl, run_stub, stub_app

_RSA_KEYS: list[rsa.RSAPrivateKey] = []
_drawn = 0


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> SigningKey:
        """A key with a kid of its own and an RSA key no other key of this test has: the n-th
        made since the test's `tenant` began is the n-th of the process's (making a 2048-bit
        RSA key costs 50-200 ms of CPU; tests of a tenant made one to four each)."""
        global _drawn
        if _drawn == len(_RSA_KEYS):
            _RSA_KEYS.append(rsa.generate_private_key(65537, 2048))
        _drawn += 1
        return cls(f"key-{uuid.uuid4().hex[:8]}", _RSA_KEYS[_drawn - 1])

    def jwk(self) -> dict[str, Any]:
        found: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return found | {"kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass
class Tenant:
    """What the stub publishes; ``published`` keys are served, ``current`` signs."""

    domain: str = "flint-test.eu.auth0.com"
    audience: str = "https://api.flint.test"
    published: list[SigningKey] = field(default_factory=list)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    """What ``/userinfo`` answers for each ``sub`` (beside the ``sub`` itself)."""

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


def forged_hs256(tenant: Tenant, **claims: Any) -> str:
    """The classic confusion attack: a token "signed" HS256 with the tenant's public key (which
    anyone can fetch) as the secret. PyJWT refuses to sign that, so it is put together by hand."""
    public = tenant.current.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    payload = jwt.decode(tenant.token(**claims), options={"verify_signature": False})
    header = {"alg": "HS256", "typ": "JWT", "kid": tenant.current.kid}
    signing_input = ".".join(
        base64url_encode(json.dumps(part).encode()).decode() for part in (header, payload)
    )
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64url_encode(signature).decode()}"


def auth0_stub(tenant: Tenant, control: StubControl | None = None) -> Starlette:
    control = control or StubControl()

    async def jwks(request: Request) -> JSONResponse:
        control.record(request)
        return JSONResponse({"keys": [key.jwk() for key in tenant.published]})

    async def userinfo(request: Request) -> JSONResponse:
        scenario = control.record(request)
        if scenario == "rate_limited":
            return JSONResponse({"error": "too_many_requests"}, status_code=429)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        keys = {key.kid: key for key in tenant.published}
        try:
            key = keys[jwt.get_unverified_header(token)["kid"]]
            claims = jwt.decode(
                token,
                key.private.public_key(),
                algorithms=["RS256"],
                audience=tenant.audience,
                issuer=tenant.issuer,
            )
        except (KeyError, jwt.PyJWTError):
            claims = None
        if scheme.lower() != "bearer" or claims is None:
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        sub = claims["sub"]
        return JSONResponse({"sub": sub} | tenant.profiles.get(sub, {}))

    return stub_app([Route("/.well-known/jwks.json", jwks), Route("/userinfo", userinfo)], control)


def requests_to(control: StubControl, path: str) -> int:
    """How many requests the stub has seen for ``path``."""
    return sum(seen.path == path for seen in control.requests)


@pytest.fixture
def tenant() -> Tenant:
    """A tenant with one key, whose ``/userinfo`` knows the default user, ``auth0|alice``."""
    global _drawn
    _drawn = 0  # a new test: its keys are drawn from the first again
    found = Tenant()
    found.rotate()
    found.profiles["auth0|alice"] = {
        "name": "Alice Auth0",
        "email": "Alice@Example.com",
        "email_verified": True,
    }
    return found


@pytest.fixture
def tenant_stub(tenant: Tenant) -> Iterator[RunningStub]:
    """The tenant served on 127.0.0.1 (import both fixtures into the test module)."""
    with run_stub(auth0_stub(tenant)) as running:
        yield running


def auth0_settings(tenant: Tenant, served: RunningStub, **more: Any) -> dict[str, Any]:
    """The settings that point Flint at the served tenant."""
    return {
        "auth0_domain": tenant.domain,
        "auth0_audience": tenant.audience,
        "auth0_base_url": served.url,
    } | more
