"""The suite's own hygiene: an app a test built and closed is freed once the test is over
(`forget_apps` in tests/conftest.py), so a worker's heap does not grow by an app per test."""

from __future__ import annotations

import gc
import weakref

import httpx
from fastapi import FastAPI

from flint.app.main import create_app
from flint.config import Settings
from tests.conftest import forget_fastapi_callables


async def _used_and_closed(settings: Settings) -> weakref.ref[FastAPI]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for path in ("/healthz", "/openapi.json", "/api/openapi.json", "/docs", "/api/v1/auth/me"):
            assert (await http.get(path)).status_code in (200, 401), path
    await app.state.runtime.aclose()
    return weakref.ref(app)


async def test_an_app_a_test_used_and_closed_is_freed_once_fastapis_caches_are_emptied(
    settings: Settings,
) -> None:
    gone = await _used_and_closed(settings)
    gc.collect()
    assert gone() is not None, "nothing kept the app: the check below proves nothing"
    forget_fastapi_callables()
    gc.collect()
    assert gone() is None, "something else now keeps a closed app alive"
