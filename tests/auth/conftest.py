"""Fixtures of the auth tests: direct database access to check what the API stored."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@pytest.fixture
def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    """Sessions on the app's own database, to read and arrange rows behind the API's back."""
    maker: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    return maker
