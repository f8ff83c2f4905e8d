"""Every feature's tables, imported in one place so `Base.metadata` is complete (Alembic, tests)."""

from flint.accounts.models import (
    AccountHolding,
    AccountLink,
    AccountTransaction,
    LinkedAccount,
    LinkSyncRequest,
    ProviderIdentity,
)
from flint.accounts.webhook_models import SnapTradeWebhook
from flint.alerts.models import Alert
from flint.auth.models import (
    PasswordResetToken,
    RecoveryCode,
    RefreshToken,
    SignIn,
    TwoFactor,
    TwoFactorChallenge,
)
from flint.billing.models import BillingAccount, BillingEvent
from flint.db import Base
from flint.handoffs import JobHandoff
from flint.idempotency import IdempotencyKey
from flint.market.models import MarketBar, MarketQuote
from flint.notifications.models import Notification, NotificationPreference, OutboxMessage
from flint.portfolio.assets.models import CustomAsset, CustomAssetPrice
from flint.portfolio.models import ImportFingerprint, Portfolio, PortfolioTransaction
from flint.reports.models import Report
from flint.trades.models import Trade, TradeEvent
from flint.trades.preview_store import TradePreview
from flint.users.models import ApiKey, User
from flint.watchlist.models import WatchlistItem

__all__ = [
    "AccountHolding",
    "AccountLink",
    "AccountTransaction",
    "Alert",
    "ApiKey",
    "Base",
    "BillingAccount",
    "BillingEvent",
    "CustomAsset",
    "CustomAssetPrice",
    "IdempotencyKey",
    "ImportFingerprint",
    "JobHandoff",
    "LinkSyncRequest",
    "LinkedAccount",
    "MarketBar",
    "MarketQuote",
    "Notification",
    "NotificationPreference",
    "OutboxMessage",
    "PasswordResetToken",
    "Portfolio",
    "PortfolioTransaction",
    "ProviderIdentity",
    "RecoveryCode",
    "RefreshToken",
    "Report",
    "SignIn",
    "SnapTradeWebhook",
    "Trade",
    "TradeEvent",
    "TradePreview",
    "TwoFactor",
    "TwoFactorChallenge",
    "User",
    "WatchlistItem",
]
