"""What a notification is about, the channels it can take, and what each kind uses by default."""

from __future__ import annotations

from enum import StrEnum


class NotificationKind(StrEnum):
    TRADE = "trade"
    """A trade filled or was rejected."""
    REPORT = "report"
    """A report finished rendering."""
    PRICE_ALERT = "price_alert"
    """A price alert fired."""
    ACCOUNT = "account"
    """A linked account's connection broke."""
    BILLING = "billing"
    """A subscription payment failed (the plan is at risk)."""
    SECURITY = "security"
    """A password reset: always by email (it is how the user gets back in), never by SMS."""


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


CHOOSABLE: tuple[NotificationKind, ...] = (
    NotificationKind.TRADE,
    NotificationKind.REPORT,
    NotificationKind.PRICE_ALERT,
    NotificationKind.ACCOUNT,
    NotificationKind.BILLING,
)
"""The kinds whose channels the user picks; in-app is always on for every kind."""

DEFAULT_CHANNELS: dict[NotificationKind, frozenset[Channel]] = {
    kind: frozenset({Channel.EMAIL}) for kind in CHOOSABLE
}

FIXED_CHANNELS: dict[NotificationKind, frozenset[Channel]] = {
    NotificationKind.SECURITY: frozenset({Channel.EMAIL}),
}
"""Kinds whose channels no preference changes. A reset link by SMS would hand the account to
whoever holds (or has swapped) the SIM, so security notices never go that way."""
