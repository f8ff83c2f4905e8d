"""An open quote stream ends with its sign-in: signing out (in any API process) closes the
connections opened with that sign-in's tokens with 4401 within seconds; the user's other
sign-ins keep streaming."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx

from tests.auth.helpers import V1, bearer, login
from tests.conftest import Account, service_url, sign_up
from tests.market.stream_client import Served, exchange, receive, stream
from tests.market.test_stream import Start, close_code, current, moved, start

__all__ = ["start"]

CHECK_SECONDS = 0.2


async def sign_out(http: httpx.AsyncClient, account: Account) -> None:
    response = await http.post(
        f"{V1}/logout", json={"refreshToken": account.refresh_token}, headers=account.headers
    )
    assert response.status_code == 204, response.text


async def test_signing_out_closes_that_sign_ins_streams_with_4401_and_no_other(
    start: Start,
) -> None:
    served = await start(stream_session_check_seconds=CHECK_SECONDS)
    laptop = await sign_up(served.http, "carol@example.com")
    signed_in = (await login(served.http, laptop.email, laptop.password)).json()
    phone = Account(laptop.user_id, laptop.email, laptop.password, **token_pair(signed_in))
    async with stream(served, laptop.token) as on_laptop, stream(served, phone.token) as on_phone:
        for ws in (on_laptop, on_phone):
            await exchange(ws, {"action": "subscribe", "symbols": ["ETH-USD"]})

        await sign_out(served.http, laptop)

        assert await close_code(on_laptop, within=5) == 4401
        later = moved(await current(served, "ETH-USD"), 5)
        await served.hub.publish_quotes([later])
        message = await receive(on_phone)
    assert message["symbol"] == "ETH-USD"
    assert Decimal(str(message["price"])) == later.price
    assert served.hub.clients == 0


async def test_a_sign_out_in_another_api_process_closes_the_stream(start: Start) -> None:
    """Two processes sharing the database and Redis; the socket is on the first, the sign-out
    reaches the second."""
    redis = service_url("FLINT_TEST_REDIS_URL", "Redis")
    first: Served = await start(redis_url=redis, stream_session_check_seconds=CHECK_SECONDS)
    second: Served = await start(redis_url=redis)
    account = await sign_up(first.http, f"carol-{uuid.uuid4().hex[:6]}@example.com")
    async with stream(first, account.token) as ws:
        await exchange(ws, {"action": "subscribe", "symbols": ["BTC-USD"]})
        assert (await second.http.get(f"{V1}/me", headers=bearer(account.token))).is_success

        await sign_out(second.http, account)

        assert await close_code(ws, within=5) == 4401


def token_pair(pair: dict[str, str]) -> dict[str, str]:
    return {"token": pair["token"], "refresh_token": pair["refreshToken"]}
