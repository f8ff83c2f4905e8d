"""With no secret configured, the signing key is generated once into the data dir and reused."""

from __future__ import annotations

import stat

import httpx
import jwt
import pytest
from fastapi import FastAPI

from flint.app.main import create_app
from flint.config import Settings
from tests.auth.helpers import V1, bearer, login, refresh
from tests.conftest import Account, assert_problem


async def test_without_a_secret_a_key_file_is_generated_in_the_data_dir(
    app: FastAPI, settings: Settings, alice: Account
) -> None:
    assert settings.jwt_secret is None
    key_file = settings.data_dir / "jwt.key"

    assert key_file.is_file()
    key = key_file.read_text().strip()
    assert len(key) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert jwt.decode(alice.token, key, algorithms=["HS256"], issuer="flint")["sub"] == (
        alice.user_id
    )


async def test_a_second_app_on_the_same_data_dir_reuses_the_key_and_accepts_its_tokens(
    app: FastAPI, settings: Settings, alice: Account
) -> None:
    key_file = settings.data_dir / "jwt.key"
    key_before = key_file.read_bytes()

    second = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=second, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            profile = await other.get(f"{V1}/me", headers=bearer(alice.token))
            assert profile.status_code == 200, profile.text
            assert profile.json()["userId"] == alice.user_id
            # Tokens the second app issues are good on the first, too.
            pair = (await login(other, alice.email, alice.password)).json()
            assert (await refresh(other, alice.refresh_token)).status_code == 200
    finally:
        await second.state.runtime.aclose()

    assert key_file.read_bytes() == key_before
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as first:
        assert (await first.get(f"{V1}/me", headers=bearer(pair["token"]))).status_code == 200


async def test_apps_on_different_data_dirs_do_not_accept_each_others_tokens(
    settings: Settings, alice: Account, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("elsewhere")})

    stranger = create_app(elsewhere)
    try:
        transport = httpx.ASGITransport(app=stranger, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            response = await other.get(f"{V1}/me", headers=bearer(alice.token))
    finally:
        await stranger.state.runtime.aclose()

    assert_problem(response, 401)
    assert (elsewhere.data_dir / "jwt.key").read_bytes() != (
        settings.data_dir / "jwt.key"
    ).read_bytes()
