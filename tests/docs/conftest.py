"""Fixtures for the documentation tests: the OpenAPI document, and the app served for real."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from flint.app.main import create_app
from flint.config import Settings
from tests.conftest import served_document
from tests.stubs.server import serve


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    """The OpenAPI document as a client fetches it."""
    return await served_document(client)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 in a background thread, lifespan and all;
    yields its base URL."""
    with serve(create_app(settings), lifespan="on", start_within=30) as url:
        yield url
