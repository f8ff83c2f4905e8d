"""Access tokens: HS256 JWTs with required claims; every forged or stale one is the same 401."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from flint.config import Settings
from tests.auth.helpers import SECRET, V1, b64url, b64url_json, claims, forge, login, me, segments
from tests.conftest import Account, assert_problem

INVALID = "The access token is invalid or has expired."


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"jwt_secret": SECRET}


def assert_invalid_token(response: httpx.Response) -> None:
    """Refused with one message whatever the defect, so the reason never leaks."""
    problem = assert_problem(response, 401)
    assert problem["detail"] == INVALID
    assert response.headers["www-authenticate"] == "Bearer"


async def test_access_token_is_an_hs256_jwt_with_the_documented_claims(
    client: httpx.AsyncClient, alice: Account
) -> None:
    header, _ = segments(alice.token)
    decoded = jwt.decode(alice.token, SECRET, algorithms=["HS256"], issuer="flint")

    assert header["alg"] == "HS256"
    assert {"sub", "exp", "iat", "jti", "typ"} <= set(decoded)
    assert decoded["sub"] == alice.user_id
    assert decoded["typ"] == "access"
    assert decoded["exp"] - decoded["iat"] == 15 * 60
    assert abs(decoded["iat"] - time.time()) < 60
    again = (await login(client, alice.email, alice.password)).json()["token"]
    assert jwt.decode(again, SECRET, algorithms=["HS256"], issuer="flint")["jti"] != decoded["jti"]


async def test_access_token_lifetime_follows_the_setting(
    client: httpx.AsyncClient, alice: Account, settings: Settings
) -> None:
    assert settings.access_token_minutes == 15
    pair = (await login(client, alice.email, alice.password)).json()
    decoded = jwt.decode(pair["token"], SECRET, algorithms=["HS256"], issuer="flint")

    assert pair["expiresIn"] == decoded["exp"] - decoded["iat"] == 900


async def test_a_token_made_with_the_apps_key_and_claims_is_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    # The control for the forgeries below: the same recipe with nothing wrong passes.
    response = await me(client, forge(claims(alice.user_id)))

    assert response.status_code == 200, response.text
    assert response.json()["userId"] == alice.user_id


async def test_an_expired_access_token_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    now = int(time.time())
    expired = forge(claims(alice.user_id, iat=now - 16 * 60, nbf=now - 16 * 60, exp=now - 60))

    assert_invalid_token(await me(client, expired))


async def test_a_token_whose_claims_were_edited_is_refused(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    head, _payload, signature = alice.token.split(".")
    _, original = segments(alice.token)
    as_bob = b64url_json({**original, "sub": bob.user_id})

    assert_invalid_token(await me(client, f"{head}.{as_bob}.{signature}"))


async def test_a_token_with_a_tampered_signature_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    head, payload, signature = alice.token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = signature[:middle] + flipped + signature[middle + 1 :]

    assert_invalid_token(await me(client, f"{head}.{payload}.{tampered}"))
    assert_invalid_token(await me(client, f"{head}.{payload}."))


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_an_unsigned_alg_none_token_is_refused(
    client: httpx.AsyncClient, alice: Account, alg: str
) -> None:
    unsigned = f"{b64url_json({'alg': alg, 'typ': 'JWT'})}.{b64url_json(claims(alice.user_id))}."

    assert_invalid_token(await me(client, unsigned))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
async def test_a_token_signed_with_another_hmac_algorithm_is_refused(
    client: httpx.AsyncClient, alice: Account, algorithm: str
) -> None:
    other = forge(claims(alice.user_id), algorithm=algorithm)

    assert_invalid_token(await me(client, other))


async def test_a_token_signed_with_another_key_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    other = forge(claims(alice.user_id), key="another-key-" + "z" * 52)

    assert_invalid_token(await me(client, other))


@pytest.mark.parametrize("typ", ["refresh", "reset", "ACCESS", ""])
async def test_a_token_of_another_type_is_refused(
    client: httpx.AsyncClient, alice: Account, typ: str
) -> None:
    assert_invalid_token(await me(client, forge(claims(alice.user_id, typ=typ))))


@pytest.mark.parametrize("missing", ["sub", "exp", "iat", "jti", "typ", "iss"])
async def test_a_token_missing_a_required_claim_is_refused(
    client: httpx.AsyncClient, alice: Account, missing: str
) -> None:
    payload = claims(alice.user_id)
    del payload[missing]

    assert_invalid_token(await me(client, forge(payload)))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"iss": "someone-else"}, id="issuer"),
        pytest.param({"sub": "not-a-uuid"}, id="sub-not-uuid"),
        pytest.param({"sub": str(uuid.uuid4())}, id="unknown-user"),
        pytest.param({"ver": 1}, id="stale-token-version"),
        pytest.param({"nbf": int(time.time()) + 3600}, id="not-yet-valid"),
        pytest.param({"exp": "tomorrow"}, id="exp-not-a-number"),
    ],
)
async def test_a_token_with_bad_claims_is_refused(
    client: httpx.AsyncClient, alice: Account, changes: dict[str, Any]
) -> None:
    assert_invalid_token(await me(client, forge(claims(alice.user_id, **changes))))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        f"Bearer {b64url(b'{}')}.{b64url(b'{}')}.{b64url(b'sig')}",
        "Bearer ey.ey.ey.ey",
    ],
)
async def test_garbage_bearer_tokens_are_refused(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get(f"{V1}/me", headers={"Authorization": authorization})

    assert_invalid_token(response)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"Authorization": ""}, id="empty"),
        pytest.param({"Authorization": "Bearer"}, id="scheme-only"),
        pytest.param({"Authorization": "Bearer "}, id="scheme-and-space"),
        pytest.param({"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="}, id="basic"),
        pytest.param({"Authorization": "Token abc"}, id="other-scheme"),
    ],
)
async def test_missing_bearer_credentials_ask_for_bearer_authentication(
    client: httpx.AsyncClient, alice: Account, headers: dict[str, str]
) -> None:
    response = await client.get(f"{V1}/me", headers=headers)

    problem = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in problem["detail"]


async def test_a_token_without_the_bearer_scheme_is_not_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get(f"{V1}/me", headers={"Authorization": alice.token})

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_the_bearer_scheme_name_is_case_insensitive(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get(f"{V1}/me", headers={"Authorization": f"bearer {alice.token}"})

    assert response.status_code == 200, response.text
    assert response.json()["userId"] == alice.user_id


async def test_a_configured_secret_means_no_key_file_is_written(
    app: FastAPI, settings: Settings
) -> None:
    assert not (Path(settings.data_dir) / "jwt.key").exists()
