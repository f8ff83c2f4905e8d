"""`FLINT_AUTH0_ONLY`: Auth0 is the only way in. Every route that signs in with a Flint password
or token answers 403 `/problems/local-sign-in-disabled`, and Flint's own access tokens are
refused; and the Auth0 settings are checked at start."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from flint.config import Settings
from flint.users.api import Principals
from tests.auth.helpers import V1
from tests.conftest import DEFAULT_PASSWORD, assert_problem
from tests.stubs.auth0 import Tenant, auth0_settings, tenant, tenant_stub
from tests.stubs.server import RunningStub

__all__ = ["tenant", "tenant_stub"]  # the fixtures, imported for pytest

ME = "/api/v1/users/me"
LOCAL_ROUTES = [
    ("/register", {"email": "carol@example.com", "password": DEFAULT_PASSWORD}),
    ("/login", {"email": "carol@example.com", "password": DEFAULT_PASSWORD}),
    ("/refresh", {"refreshToken": "a-refresh-token"}),
    ("/reset-password", {"email": "carol@example.com"}),
    ("/reset-password/confirm", {"token": "a-reset-token", "newPassword": DEFAULT_PASSWORD}),
    ("/2fa/verify", {"mfaToken": "an-mfa-token", "code": "123456"}),
]


@pytest.fixture
def settings_overrides(tenant: Tenant, tenant_stub: RunningStub) -> dict[str, Any]:
    return auth0_settings(tenant, tenant_stub, auth0_only=True)


@pytest.mark.parametrize(("path", "body"), LOCAL_ROUTES, ids=[path for path, _ in LOCAL_ROUTES])
async def test_local_sign_in_answers_that_auth0_is_the_way_in(
    client: httpx.AsyncClient, path: str, body: dict[str, str]
) -> None:
    problem = assert_problem(await client.post(f"{V1}{path}", json=body), 403)
    assert problem["type"] == "/problems/local-sign-in-disabled"
    assert "sign in with Auth0" in problem["detail"]


async def test_the_oauth2_form_is_disabled_too(client: httpx.AsyncClient) -> None:
    form = {"username": "carol@example.com", "password": DEFAULT_PASSWORD}
    problem = assert_problem(await client.post(f"{V1}/token", data=form), 403)
    assert problem["type"] == "/problems/local-sign-in-disabled"


async def test_flint_tokens_are_refused_and_auth0_ones_accepted(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    signed_in = await client.get(ME, headers={"Authorization": f"Bearer {tenant.token()}"})
    assert signed_in.status_code == 200, signed_in.text
    user_id = uuid.UUID(signed_in.json()["userId"])

    # A token Flint issued to the very same user, as one from before the switch would be.
    local = app.state.runtime.get(Principals).tokens.issue(user_id, 0)
    assert_problem(await client.get(ME, headers={"Authorization": f"Bearer {local}"}), 401)


@pytest.mark.parametrize(
    "values",
    [
        {"auth0_domain": "flint.eu.auth0.com"},
        {"auth0_audience": "https://api.flint.test"},
        {"auth0_only": True},
    ],
    ids=["domain-alone", "audience-alone", "only-without-tenant"],
)
def test_incomplete_auth0_settings_stop_the_start(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="FLINT_AUTH0"):
        Settings(_env_file=None, **values)  # type: ignore[call-arg]
