"""Notifications: tell a user something, in the app and by the channels they chose.

The public face other features import (`notify` is the one way to reach a user); the modules
behind it are private to this feature.
"""

from flint.notifications.kinds import NotificationKind
from flint.notifications.service import notify

__all__ = ["NotificationKind", "notify"]
