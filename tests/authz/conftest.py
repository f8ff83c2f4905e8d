"""The authorization tests: every route, another user's ids and every kind of bad credential.
The matrix of ids runs a real Celery worker (the trades tests' own) for the work its users'
data comes from (fills, reports, imports in the background)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.trades.conftest import worker

__all__ = ["worker"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Hundreds of requests from one user and one address: the limits are tested elsewhere.
    return {"rate_limits_enabled": False}
