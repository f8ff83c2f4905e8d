"""What `GET /auth/sessions` answers: the account's sign-ins, as devices."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from flint.auth.sessions import LiveSignIn
from flint.kit.schema import ApiModel

Method = Literal["password", "two_factor", "password_change"]


class SignInOut(ApiModel):
    session_id: uuid.UUID = Field(
        description="End it with `DELETE /auth/sessions/{sessionId}`.",
        examples=["0f3c2b1a-9d8e-4f7a-8b6c-5d4e3f2a1b0c"],
    )
    signed_in_at: datetime = Field(examples=["2026-12-01T08:15:00Z"])
    last_active_at: datetime = Field(
        description="When it last exchanged its refresh token (or signed in).",
        examples=["2026-12-06T14:02:11Z"],
    )
    expires_at: datetime = Field(
        description="When it ends unless it is used again before.",
        examples=["2027-01-05T14:02:11Z"],
    )
    method: Method | None = Field(
        description="How it began: a password, a password and a two-factor code, or a password "
        "change; null for a sign-in older than this record.",
        examples=["two_factor"],
    )
    device: str | None = Field(
        description="The User-Agent it signed in with (at most 256 characters), as sent.",
        examples=["Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) FlintApp/2.4"],
    )
    device_name: str | None = Field(
        description="The browser, system and device its User-Agent names, as ua-parser reads "
        "them; null when it names no browser it knows (a script, an app of its own).",
        examples=["Mobile Safari 18 on iOS 18 (iPhone)"],
    )
    ip_address: str | None = Field(
        description="The address it was last used from, as this server saw it.",
        examples=["203.0.113.7"],
    )
    current: bool = Field(
        description="Whether it is the sign-in of the token that asks.", examples=[True]
    )

    @classmethod
    def of(cls, sign_in: LiveSignIn, current: uuid.UUID | None) -> SignInOut:
        return cls(
            session_id=sign_in.id,
            signed_in_at=sign_in.created_at,
            last_active_at=sign_in.last_active_at,
            expires_at=sign_in.expires_at,
            method=sign_in.method,
            device=sign_in.user_agent,
            device_name=sign_in.device_name,
            ip_address=sign_in.ip_address,
            current=sign_in.id == current,
        )


class SignInList(ApiModel):
    sessions: list[SignInOut] = Field(description="The most recently used first.")
