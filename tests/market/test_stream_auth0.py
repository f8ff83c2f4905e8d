"""The quote stream takes Auth0 access tokens as the HTTP API does (the same principals), and
closes their connections with 4401 once their user is deactivated."""

from __future__ import annotations

import uuid

from flint.users.api import Principals, User
from tests.market.stream_client import exchange, stream
from tests.market.test_stream import Start, close_code, start
from tests.stubs.auth0 import Tenant, auth0_settings, tenant, tenant_stub
from tests.stubs.server import RunningStub

__all__ = ["start", "tenant", "tenant_stub"]


async def test_an_auth0_token_streams_until_its_user_is_deactivated(
    start: Start, tenant: Tenant, tenant_stub: RunningStub
) -> None:
    served = await start(**auth0_settings(tenant, tenant_stub, stream_session_check_seconds=0.2))
    token = tenant.token()
    async with stream(served, token) as ws:
        replies = await exchange(ws, {"action": "subscribe", "symbols": ["ETH-USD"]})
        assert replies[-1]["symbols"] == ["ETH-USD"]

        me = await served.http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        user_id = uuid.UUID(me.json()["userId"])
        async with served.app.state.runtime.sessions() as session:
            user = await session.get(User, user_id)
            assert user is not None
            user.is_active = False
            await session.commit()
        await served.app.state.runtime.get(Principals).forget(user_id)

        assert await close_code(ws, within=5) == 4401
