from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, StrictBool

from flint.kit.schema import ApiModel, RequestModel
from flint.notifications.kinds import NotificationKind
from flint.notifications.preferences import E164_RULE, PHONE_PATTERN, normalize_phone


class NotificationOut(ApiModel):
    notification_id: uuid.UUID = Field(examples=["7f9b1d3f-5b7d-4f9c-b2d4-6f8b0d2f4c5e"])
    kind: NotificationKind
    title: str = Field(examples=["Your report is ready"])
    body: str = Field(
        examples=["Your performance report of the portfolio 'Retirement' (PDF) is ready."]
    )
    data: dict[str, Any] = Field(
        description="What the notification is about, for links in the app: e.g. `tradeId`, "
        "`alertId`, `symbol`, `price`, `accountIds`.",
        examples=[
            {
                "reportId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                "downloadUrl": "https://flint.example.com/api/v1/reports/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d/download",
                "format": "pdf",
            }
        ],
    )
    read: bool = Field(examples=[False])
    read_at: datetime | None = Field(None, examples=[None])
    created_at: datetime = Field(examples=["2024-06-01T06:00:12Z"])


class NotificationPage(ApiModel):
    notifications: list[NotificationOut]
    unread_count: int = Field(
        description="All your unread notifications, not only this page's.", examples=[3]
    )
    next_cursor: str | None = Field(
        None,
        description="Pass as `cursor` for the next page; null at the end.",
        examples=["MjAyNC0wNi0wMVQwNjowMDoxMlp8N2Y5YjFkM2Y"],
    )


class MarkedRead(ApiModel):
    marked: int = Field(description="How many notifications were unread.", examples=[3])
    unread_count: int = Field(examples=[0])


class ChannelChoice(RequestModel):
    """In-app is always on; these add an email and a text message."""

    in_app: Literal[True] = Field(
        True,
        description="Always true: taken so that what `GET /notifications/preferences` answers "
        "can be sent back as it is (a choice with it was refused).",
    )
    email: StrictBool
    sms: StrictBool


class ChannelsOut(ApiModel):
    in_app: bool = True
    email: bool
    sms: bool


Phone = Annotated[
    str,
    Field(
        min_length=2,
        max_length=32,
        examples=["+14155552671"],
        description=E164_RULE,
        json_schema_extra={"pattern": PHONE_PATTERN},  # stated; `normalize_phone` decides
    ),
    AfterValidator(normalize_phone),
]


class PreferencesIn(RequestModel):
    """A replacement: kinds left out go back to their defaults (email on, SMS off)."""

    model_config = ConfigDict(
        json_schema_extra={  # a kind with SMS chosen needs the number
            "if": {
                "required": ["channels"],
                "properties": {
                    "channels": {
                        "not": {"additionalProperties": {"properties": {"sms": {"const": False}}}}
                    }
                },
            },
            "then": {
                "required": ["phoneNumber"],
                "properties": {"phoneNumber": {"type": "string"}},
            },
        }
    )

    phone_number: Phone | None = Field(
        None, description=f"Where SMS go: {E164_RULE}. Required when SMS is chosen."
    )
    channels: dict[NotificationKind, ChannelChoice] = Field(
        default_factory=dict,
        description="Per kind: `trade`, `report`, `price_alert`, `account`, `billing`. `security` "
        "(password resets) always goes by email and never by SMS; it may be sent only as it is.",
        examples=[
            {"trade": {"email": True, "sms": True}, "report": {"email": False, "sms": False}}
        ],
        json_schema_extra={
            "properties": {
                "security": {
                    "type": "object",
                    "properties": {"email": {"const": True}, "sms": {"const": False}},
                    "required": ["email", "sms"],
                    "additionalProperties": False,
                }
            }
        },
    )


class PreferencesOut(ApiModel):
    phone_number: str | None = Field(examples=["+14155550123"])
    channels: dict[NotificationKind, ChannelsOut] = Field(
        examples=[
            {
                "trade": {"inApp": True, "email": True, "sms": False},
                "report": {"inApp": True, "email": True, "sms": False},
                "price_alert": {"inApp": True, "email": True, "sms": True},
                "account": {"inApp": True, "email": True, "sms": False},
            }
        ]
    )
