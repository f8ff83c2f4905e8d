"""With Redis configured, wrong two-factor codes are counted there, so every API process sees
them (the keys are a user's and an mfaToken's ids: counts of other runs cannot reach them)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from flint.app.main import create_app
from flint.auth.twofactor import TwoFactorConfig
from flint.config import Settings
from tests.auth.helpers_two_factor import Clock, challenge, turn_on, verify
from tests.conftest import Account, assert_problem, service_url


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"redis_url": service_url("FLINT_TEST_REDIS_URL", "Redis")}


async def test_api_processes_sharing_redis_share_the_wrong_code_count(
    client: httpx.AsyncClient,
    settings: Settings,
    alice: Account,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings.redis_url
    app = await turn_on(client, alice, clock)
    clock.advance()
    other_process = create_app(settings)
    monkeypatch.setattr(other_process.state.runtime.get(TwoFactorConfig), "clock", clock)
    try:
        transport = httpx.ASGITransport(app=other_process, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            mfa_token = await challenge(client, alice)
            for http in (client, other, client, other, client):
                assert_problem(await verify(http, mfa_token, code="000000"), 401)

            for http in (other, client):
                refused = await verify(http, mfa_token, code=app.code(clock.now))
                assert_problem(refused, 429)
                assert int(refused.headers["retry-after"]) > 0
    finally:
        await other_process.state.runtime.aclose()
