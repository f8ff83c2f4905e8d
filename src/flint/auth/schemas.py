from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, StringConstraints

from flint.kit.schema import ApiModel, RequestModel

Password = Field(min_length=1, max_length=1024, examples=["correct horse battery staple"])

Verbatim = Annotated[str, StringConstraints(strip_whitespace=False)]
"""A password is taken exactly as typed: request bodies strip whitespace, but stripping here
would make ` secret ` and `secret` one password for the JSON routes and two for the OAuth2
form (which is not a RequestModel and never strips)."""


class RegisterRequest(RequestModel):
    email: EmailStr = Field(max_length=320, examples=["ada@example.com"])
    password: Verbatim = Field(
        min_length=1,
        max_length=1024,
        examples=["correct horse battery staple"],
        description="10-128 characters, not a commonly used password.",
    )


class RegisterResponse(ApiModel):
    user_id: uuid.UUID = Field(examples=["5a46d20d-cd13-4e08-9ccf-9cd7121c3481"])
    email: str = Field(
        description="As stored: normalized and lower-cased.", examples=["ada@example.com"]
    )


class LoginRequest(RequestModel):
    email: str = Field(min_length=1, max_length=320, examples=["ada@example.com"])
    password: Verbatim = Password


class TokenPair(ApiModel):
    token: str = Field(description="The access token (a JWT) for `Authorization: Bearer`.")
    expires_in: int = Field(description="Seconds until the access token expires.", examples=[900])
    refresh_token: str = Field(description="Single-use; exchange it at /auth/refresh.")
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name, not a secret


class OAuth2TokenResponse(BaseModel):
    """The OAuth2 password-flow answer, with the snake_case names RFC 6749 gives its fields."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    refresh_token: str


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class ResetRequest(RequestModel):
    email: str = Field(min_length=1, max_length=320, examples=["ada@example.com"])


class ResetConfirm(RequestModel):
    token: str = Field(min_length=1, max_length=512)
    new_password: Verbatim = Field(min_length=1, max_length=1024)


class Message(ApiModel):
    message: str
