from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, StrictBool

from flint.kit.schema import ApiModel, RequestModel

Theme = Literal["light", "dark", "system"]


class NotificationPreferences(ApiModel):
    """Whether any kind of notification goes by email, and by SMS
    (`GET /notifications/preferences` says which)."""

    email: bool = Field(True, examples=[True])
    sms: bool = Field(False, examples=[False])


class Preferences(ApiModel):
    theme: Theme = "system"
    notifications: NotificationPreferences = NotificationPreferences()


class LinkedAccountSummary(ApiModel):
    account_id: uuid.UUID = Field(examples=["5b0d7c1e-3f4a-4d2b-9c8e-7a6f5e4d3c2b"])
    provider: str = Field(examples=["sandbox"])
    name: str = Field(examples=["Individual Brokerage"])
    type: str = Field(examples=["brokerage"])


class UserProfile(ApiModel):
    user_id: uuid.UUID = Field(examples=["5a46d20d-cd13-4e08-9ccf-9cd7121c3481"])
    name: str | None = Field(examples=["Ada Lovelace"])
    email: str = Field(examples=["ada@example.com"])
    accounts: list[LinkedAccountSummary] = Field(
        description="The user's linked bank and brokerage accounts."
    )
    created_at: datetime = Field(examples=["2024-01-15T09:12:44Z"])
    last_login: datetime | None = Field(examples=["2024-06-03T14:30:00Z"])
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
    `null` for a preference, or a group of them, puts it back to its default. The
    notification switches turn email or SMS on or off for every kind of notification at once
    (`PUT /notifications/preferences` chooses per kind; SMS needs its phone number first)."""

    name: str | None = Field(default=None, min_length=1, max_length=200, examples=["Ada Lovelace"])
    preferences: PreferencesPatch | None = None
