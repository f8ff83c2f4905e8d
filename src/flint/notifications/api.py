"""The public face of `flint.notifications`: what other features may import (the modules behind it
are private to the feature, and `make lint` holds them to that)."""

from flint.notifications.kinds import NotificationKind
from flint.notifications.preferences import ProfileSwitches
from flint.notifications.service import Secrets, notify, queue_email

__all__ = ["NotificationKind", "ProfileSwitches", "Secrets", "notify", "queue_email"]
