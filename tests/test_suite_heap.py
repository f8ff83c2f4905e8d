"""The suite's own hygiene: an app a test built and closed is freed once the test is over
(`forget_apps` in tests/conftest.py), so a worker's heap does not grow by an app per test.

Checked in a fresh interpreter: in a test process, whatever earlier tests left behind (an SDK's
last scope, say) may hold the latest app for a while, which is no growth."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.waits

CHECK = textwrap.dedent(
    """
    import asyncio, gc, sys, weakref
    import httpx
    from fastapi import Request
    from flint.app.main import create_app
    from flint.config import Settings
    from tests.conftest import forget_fastapi_callables

    async def used_and_closed(with_own_route):
        settings = Settings(_env_file=None, env="test", data_dir=sys.argv[1],
                            log_level="WARNING", performance_workers=0, freeze_heap=False)
        app = create_app(settings)
        if with_own_route:  # a route a test adds, whose endpoint holds its app
            @app.get("/api/v1/_test/title")
            async def title(request: Request) -> str:
                return app.title
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            for path in ("/healthz", "/openapi.json", "/api/openapi.json", "/api/v1/auth/me"):
                assert (await http.get(path)).status_code in (200, 401), path
        await app.state.runtime.aclose()
        return weakref.ref(app)

    plain = asyncio.run(used_and_closed(False))
    gc.collect()
    print("plain freed", plain() is None)
    gone = asyncio.run(used_and_closed(True))
    gc.collect()
    kept = gone() is not None
    forget_fastapi_callables()
    gc.collect()
    print("kept", kept, "freed", gone() is None)
    """
)


def test_an_app_used_and_closed_is_freed_once_fastapis_caches_are_emptied(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(tmp_path / "data")],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Flint's own routes hold nothing made for an app (its docs pages did: a closure each).
    assert "plain freed True" in done.stdout.splitlines(), done.stdout
    # A test's route holding its app is kept by the caches (else the check proves nothing),
    # and by nothing else once they are emptied.
    assert done.stdout.strip().splitlines()[-1] == "kept True freed True", done.stdout
