"""What trading needs from the runtime, built once per process by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from flint.accounts.api import Accounts
from flint.config import Settings
from flint.db import READ_ONLY
from flint.market.api import MarketData

ANSWER_GRACE = timedelta(seconds=30)
"""How long past its wait a request may still be about to record its answer."""


@dataclass(frozen=True)
class TradingContext:
    accounts: Accounts
    market: MarketData
    sessions: async_sessionmaker[AsyncSession]
    """Short transactions of its own: `execute` commits the trade before it waits for it."""
    engine: AsyncEngine
    settings: Settings

    @property
    def readers(self) -> AsyncEngine:
        """Connections that only read (on SQLite they never wait for the write lock)."""
        return self.engine.execution_options(**READ_ONLY)

    @property
    def wait_seconds(self) -> float:
        return self.settings.trade_wait_seconds

    @property
    def send_window(self) -> timedelta:
        """How long a send may still be under way (`Settings.trade_send_window_seconds`)."""
        return timedelta(seconds=self.settings.trade_send_window_seconds)

    @property
    def abandoned_after(self) -> timedelta:
        """An Idempotency-Key still without an answer after this long lost its request."""
        return timedelta(seconds=self.wait_seconds) + ANSWER_GRACE
