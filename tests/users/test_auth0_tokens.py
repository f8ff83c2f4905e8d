"""Auth0 access tokens checked against the tenant's keys (served by a local stub): the pinned
algorithm, the issuer, audience and lifetime, key rotation, and at most one key fetch a minute."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import jwt
import pytest

from flint.errors import Unauthorized
from flint.users.auth0 import Auth0Verifier
from tests.stubs.auth0 import SigningKey, Tenant, forged_hs256, tenant, tenant_stub
from tests.stubs.server import RunningStub

__all__ = ["tenant", "tenant_stub"]  # the fixtures, imported for pytest


@pytest.fixture
async def verifier(tenant: Tenant, tenant_stub: RunningStub) -> AsyncIterator[Auth0Verifier]:
    checker = Auth0Verifier(tenant.domain, tenant.audience, base_url=tenant_stub.url)
    yield checker
    await checker.aclose()


async def test_a_token_signed_by_the_tenant_names_its_user(
    tenant: Tenant, verifier: Auth0Verifier
) -> None:
    claims = await verifier.verify(tenant.token(email="Alice@Example.com", email_verified=True))
    assert (claims.sub, claims.email, claims.email_verified) == (
        "auth0|alice",
        "alice@example.com",
        True,
    )
    unverified = await verifier.verify(tenant.token(email="a@example.com"))
    assert unverified.email_verified is False


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://someone-else.example"},
        {"iss": "https://evil.eu.auth0.com/"},
        {"exp": -60},
        {"nbf": 600},
        {"sub": None},
    ],
    ids=["wrong-audience", "wrong-issuer", "expired", "not-yet-valid", "no-subject"],
)
async def test_a_token_outside_the_rules_is_refused(
    tenant: Tenant, verifier: Auth0Verifier, claims: dict[str, object]
) -> None:
    # Times are offsets from now, taken when the test runs: parameters are built at collection,
    # which can be many minutes earlier in a long parallel run.
    now = int(time.time())
    timed = {
        name: now + value if name in ("exp", "nbf") and isinstance(value, int) else value
        for name, value in claims.items()
    }
    with pytest.raises(Unauthorized):
        await verifier.verify(tenant.token(**timed))


async def test_an_hs256_token_signed_with_the_public_key_is_refused(
    tenant: Tenant, verifier: Auth0Verifier
) -> None:
    with pytest.raises(Unauthorized):
        await verifier.verify(forged_hs256(tenant))


async def test_a_token_from_another_key_is_refused(tenant: Tenant, verifier: Auth0Verifier) -> None:
    stranger = SigningKey.new()
    stranger.kid = tenant.current.kid  # claims the tenant's key id
    with pytest.raises(Unauthorized):
        await verifier.verify(tenant.token(key=stranger))


async def test_a_rotated_key_is_fetched_once_and_unknown_kids_do_not_hammer_auth0(
    tenant: Tenant, verifier: Auth0Verifier, tenant_stub: RunningStub
) -> None:
    await verifier.verify(tenant.token())
    assert tenant_stub.control.count() == 1
    await verifier.verify(tenant.token())
    assert tenant_stub.control.count() == 1  # the keys are kept

    for _ in range(5):  # forged key ids within the minute: no new fetch
        with pytest.raises(Unauthorized):
            await verifier.verify(tenant.token(key=SigningKey.new()))
    assert tenant_stub.control.count() == 1

    verifier._fetched_at = time.monotonic() - 61  # a minute on, the tenant rotates its key
    tenant.rotate()
    claims = await verifier.verify(tenant.token())
    assert claims.sub == "auth0|alice"
    assert tenant_stub.control.count() == 2
    for _ in range(3):
        with pytest.raises(Unauthorized):
            await verifier.verify(tenant.token(key=SigningKey.new()))
    assert tenant_stub.control.count() == 2


def test_only_rs256_tokens_look_like_auth0_ones(tenant: Tenant) -> None:
    assert Auth0Verifier.looks_like(tenant.token())
    assert not Auth0Verifier.looks_like(jwt.encode({"sub": "x"}, "secret", algorithm="HS256"))
    assert not Auth0Verifier.looks_like("flint_not-a-jwt")
