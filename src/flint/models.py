"""Every feature's tables, imported in one place so `Base.metadata` is complete (Alembic, tests)."""

from flint.auth.models import PasswordResetToken, RefreshToken
from flint.db import Base
from flint.market.models import MarketBar, MarketQuote
from flint.notifications.models import OutboxMessage
from flint.users.models import User
from flint.watchlist.models import WatchlistItem

__all__ = [
    "Base",
    "MarketBar",
    "MarketQuote",
    "OutboxMessage",
    "PasswordResetToken",
    "RefreshToken",
    "User",
    "WatchlistItem",
]
