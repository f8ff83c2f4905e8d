from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, StrictBool

from flint.kit.schema import ApiModel, RequestModel

Theme = Literal["light", "dark", "system"]


class NotificationPreferences(ApiModel):
    email: bool = True
    sms: bool = False


class Preferences(ApiModel):
    theme: Theme = "system"
    notifications: NotificationPreferences = NotificationPreferences()


class LinkedAccountSummary(ApiModel):
    account_id: uuid.UUID
    provider: str
    name: str
    type: str


class UserProfile(ApiModel):
    user_id: uuid.UUID
    name: str | None
    email: str
    accounts: list[LinkedAccountSummary] = Field(
        description="The user's linked bank and brokerage accounts."
    )
    created_at: datetime
    last_login: datetime | None
    preferences: Preferences


class NotificationPreferencesPatch(RequestModel):
    # Strict: JSON booleans only, so "yes" or "0" is a 422 rather than a silent guess.
    email: StrictBool | None = None
    sms: StrictBool | None = None


class PreferencesPatch(RequestModel):
    theme: Theme | None = None
    notifications: NotificationPreferencesPatch | None = None


class UpdateMe(RequestModel):
    """Only the fields sent are changed (JSON merge patch): `name: null` clears the name, and
    `null` for a preference, or a group of them, puts it back to its default."""

    name: str | None = Field(default=None, min_length=1, max_length=200, examples=["Ada Lovelace"])
    preferences: PreferencesPatch | None = None
