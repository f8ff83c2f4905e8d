"""Notifications: tell a user something, in the app and by the channels they chose.

Other features import it through `flint.notifications.api`."""
