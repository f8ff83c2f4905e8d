"""Without the Auth0 settings nothing of Auth0 is built: an RS256 token is just an invalid
token, and no request goes to any host."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from flint.users.api import Auth0Verifier
from tests.conftest import assert_problem
from tests.stubs.auth0 import Tenant, tenant, tenant_stub
from tests.stubs.server import RunningStub

__all__ = ["tenant", "tenant_stub"]  # the fixtures, imported for pytest


async def test_without_settings_an_auth0_token_is_an_invalid_token(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, tenant_stub: RunningStub
) -> None:
    response = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tenant.token()}"}
    )
    problem = assert_problem(response, 401)
    assert problem["detail"] == "The access token is invalid or has expired."
    assert tenant_stub.control.requests == []
    with pytest.raises(LookupError):
        app.state.runtime.get(Auth0Verifier)
