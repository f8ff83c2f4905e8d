"""Every kind of credential Flint must refuse, made for one user: forged, altered, of the wrong
kind, or of a sign-in (or a key) that has ended."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from tests.auth.helpers import (
    SECRET,
    V1,
    b64url_json,
    bearer,
    claims,
    forge,
    login,
    me,
    refresh,
    reset_token,
)
from tests.auth.helpers_two_factor import Clock, challenge, turn_on
from tests.conftest import Account, assert_problem, sign_up
from tests.users.keys_helpers import key_header, make_key

SETTINGS = {"jwt_secret": SECRET, "refresh_grace_seconds": 0, "rate_limits_enabled": False}
"""What the app needs for these: the key tokens are forged with, a refresh token replayed at
once counting as stolen, and no limits on the walk's many requests."""


def tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


async def signed_in(client: httpx.AsyncClient, who: Account) -> dict[str, str]:
    pair = (await login(client, who.email, who.password)).json()
    assert pair["token"], pair
    return {"token": pair["token"], "refresh": pair["refreshToken"]}


async def refused_credentials(
    client: httpx.AsyncClient, app: FastAPI, who: Account
) -> dict[str, dict[str, str]]:
    """The headers of each kind of credential to refuse, by kind, all naming `who` (whose own
    token keeps working). Needs `SETTINGS`."""
    now = int(time.time())
    user = who.user_id
    unsigned = f"{b64url_json({'alg': 'none', 'typ': 'JWT'})}.{b64url_json(claims(user))}."
    tokens = {
        "an expired token": forge(claims(user, iat=now - 1000, nbf=now - 1000, exp=now - 60)),
        "a token with a tampered signature": tampered(who.token),
        "an unsigned token (alg none)": unsigned,
        "a token signed with another key": forge(claims(user), key="another-key-" + "z" * 52),
        "a token for another audience": forge(claims(user, aud="someone-else")),
        "a token of another issuer": forge(claims(user, iss="someone-else")),
        "a refresh token": who.refresh_token,
    }
    control = await me(client, forge(claims(user)))  # the recipe with nothing wrong passes
    assert control.status_code == 200, control.text

    ended = await signed_in(client, who)
    out = await client.post(
        f"{V1}/logout", json={"refreshToken": ended["refresh"]}, headers=bearer(ended["token"])
    )
    assert out.status_code == 204, out.text
    tokens["a token of a sign-in signed out"] = ended["token"]

    stolen = await signed_in(client, who)
    assert (await refresh(client, stolen["refresh"])).status_code == 200
    assert_problem(await refresh(client, stolen["refresh"]), 401)  # a replay ends the sign-in
    tokens["a token of a sign-in its replayed refresh token ended"] = stolen["token"]

    other = await sign_up(client)  # a password reset ends all of a user's sign-ins
    reset = await client.post(
        f"{V1}/reset-password/confirm",
        json={
            "token": await reset_token(client, app, other.email),
            "newPassword": "An0ther-horse-battery",
        },
    )
    assert reset.status_code == 200, reset.text
    tokens["a token from before a password reset"] = other.token

    guarded = await sign_up(client)
    await turn_on(client, guarded, Clock(datetime.now(UTC)))  # the app's clock is the wall's
    tokens["a two-factor challenge token"] = await challenge(client, guarded)

    key = await make_key(client, who, "read", "write", "trade")
    revoked = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=who.headers)
    assert revoked.status_code == 204, revoked.text

    found = {kind: bearer(token) for kind, token in tokens.items()}
    found["a revoked API key"] = key_header(key["key"])
    return found
