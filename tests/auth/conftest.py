"""Fixtures of the auth tests: direct database access to check what the API stored, and the
clock two-factor codes are checked against."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.auth.twofactor import TwoFactorConfig
from tests.auth.helpers import take_queued
from tests.auth.helpers_two_factor import Clock


@pytest.fixture(autouse=True)
def no_queued_jobs() -> Iterator[None]:
    """The in-memory broker outlives tests: each starts with none of the earlier tests' jobs
    and leaves none of its own (a reset job for alice@example.com must not reach the worker of
    another test whose database has an alice too)."""
    take_queued("")
    yield
    take_queued("")


@pytest.fixture
def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    """Sessions on the app's own database, to read and arrange rows behind the API's back."""
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker


@pytest.fixture
def clock(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The time the app checks TOTP codes against, frozen (15 s into a 30-second step)."""
    frozen = Clock(datetime(2026, 12, 3, 12, 0, 15, tzinfo=UTC))
    monkeypatch.setattr(app.state.runtime.get(TwoFactorConfig), "clock", frozen)
    return frozen
