from __future__ import annotations

import uuid
from typing import Annotated, Literal

import email_validator
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

from flint.auth.passwords import MAX_LENGTH, MIN_LENGTH
from flint.kit.schema import ApiModel, RequestModel, Shaped, any_case

Password = Field(min_length=1, max_length=1024, examples=["correct horse battery staple"])

Verbatim = Annotated[str, StringConstraints(strip_whitespace=False)]
"""A password is taken exactly as typed: request bodies strip whitespace, but stripping here
would make ` secret ` and `secret` one password for the JSON routes and two for the OAuth2
form (which is not a RequestModel and never strips)."""


NEW_PASSWORD: dict[str, JsonValue] = {"minLength": MIN_LENGTH, "maxLength": MAX_LENGTH}
"""What a new password's schema says: the policy's lengths (`password_problem` gives the
refusal its own words, and the rest of the policy, which no schema can state)."""


RESERVED_DOMAIN = (
    "@(?:[^@]*\\.)?(?:"
    + "|".join(any_case(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES)
    + ")$"
)
"""An address at a special-use or reserved name (``.test``, ``.local``, ``localhost``...),
which the address check refuses (no mail reaches it) and ``format: email`` allows."""


class RegisterRequest(RequestModel):
    email: EmailStr = Field(
        max_length=320,
        examples=["ada@example.com"],
        json_schema_extra={"not": {"pattern": RESERVED_DOMAIN}},
    )
    password: Verbatim = Field(
        min_length=1,
        max_length=1024,
        examples=["correct horse battery staple"],
        description="10-128 characters, not a commonly used password.",
        json_schema_extra=NEW_PASSWORD,
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
    token: str = Field(
        description="The access token (a JWT) for `Authorization: Bearer`.",
        examples=[
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3YzlmM2E0ZS0yYjFkLTRlOGEtOWYwYy0xZDJlM2Y0YTViNmMifQ.kQ3v5Ym2nX8pR1sT6uW9zA0bC4dE7fG2hJ5kL8mN1oP"
        ],
    )
    expires_in: int = Field(description="Seconds until the access token expires.", examples=[900])
    refresh_token: str = Field(
        description="Single-use; exchange it at /auth/refresh.",
        examples=["dGhpcyBpcyBhIHJlZnJlc2ggdG9rZW4gZm9yIGRvY3M"],
    )
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name, not a secret


class OAuth2TokenResponse(BaseModel):
    """The OAuth2 password-flow answer, with the snake_case names RFC 6749 gives its fields."""

    access_token: str = Field(
        examples=[
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3YzlmM2E0ZS0yYjFkLTRlOGEtOWYwYy0xZDJlM2Y0YTViNmMifQ.kQ3v5Ym2nX8pR1sT6uW9zA0bC4dE7fG2hJ5kL8mN1oP"
        ]
    )
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = Field(examples=[900])
    refresh_token: str = Field(examples=["dGhpcyBpcyBhIHJlZnJlc2ggdG9rZW4gZm9yIGRvY3M"])


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class ResetRequest(RequestModel):
    email: str = Field(min_length=1, max_length=320, examples=["ada@example.com"])


class ResetConfirm(RequestModel):
    token: str = Field(min_length=1, max_length=512)
    new_password: Verbatim = Field(
        min_length=1,
        max_length=1024,
        description="10-128 characters, not a commonly used password.",
        json_schema_extra=NEW_PASSWORD,
    )


class Message(ApiModel):
    message: str = Field(examples=["Your password has been changed. Sign in again."])


# --- two-factor sign-in ---------------------------------------------------------------------


class MfaRequired(ApiModel):
    """What a right password answers when the account has 2FA on: no tokens yet."""

    mfa_required: Literal[True]
    mfa_token: str = Field(
        description="Send it with a code to `/auth/2fa/verify` within five minutes; it opens "
        "nothing else (it is not an access token).",
        examples=["mfa_4fQ9xZ2kLp7WvR1tY8uB3nC6"],
    )
    expires_in: int = Field(description="Seconds until the mfaToken expires.", examples=[300])


def _without_spaces(value: object) -> object:
    """Authenticator apps show "123 456"; people type what they see."""
    return "".join(value.split()) if isinstance(value, str) else value


SIX_DIGITS = "the six digits the authenticator app shows"
A_RECOVERY_CODE = "a recovery code (ten letters and digits, such as k7mxq-p2dwa)"

_TOTP = r"(?:[0-9]\s*){6}"
_RECOVERY = r"(?:[A-Za-z0-9]\s*){5}(?:-\s*)?(?:[A-Za-z0-9]\s*){5}"
"""The codes as the documents give them: whitespace anywhere, as `_without_spaces` takes it
(the validators' own patterns, checked after it, are of the code without it)."""

TotpCode = Annotated[
    str,
    BeforeValidator(_without_spaces),
    Shaped("[0-9]{6}", SIX_DIGITS, rf"^\s*{_TOTP}$"),
    Field(
        description="The six digits the authenticator app shows now.",
        examples=["123456"],
    ),
]
RecoveryCodeText = Annotated[
    str,
    BeforeValidator(_without_spaces),
    Shaped("[A-Za-z0-9]{5}-?[A-Za-z0-9]{5}", A_RECOVERY_CODE, rf"^\s*{_RECOVERY}$"),
    Field(
        description="One of the recovery codes, each usable once.",
        examples=["k7mxq-p2dwa"],
    ),
]


class TwoFactorStatus(ApiModel):
    enabled: bool = Field(
        description="Whether signing in takes a code after the password.", examples=[True]
    )
    recovery_codes_left: int = Field(description="Unused recovery codes.", examples=[10])


class TwoFactorSetup(ApiModel):
    secret: str = Field(
        description="The TOTP secret (base32), for typing into an authenticator app.",
        examples=["JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"],
    )
    otpauth_uri: str = Field(
        description="The same as an `otpauth://` URI; `GET /auth/2fa/qr.svg` shows it as a "
        "QR code.",
        examples=["otpauth://totp/Flint:ada%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Flint"],
    )


class EnableTwoFactor(RequestModel):
    code: TotpCode


class RecoveryCodes(ApiModel):
    recovery_codes: list[str] = Field(
        description="Ten single-use codes for when the authenticator is lost; shown only now.",
        examples=[["k7m2-q9xp", "w4rt-8zna", "c3vj-6hbe"]],
    )


SecondFactor = Annotated[
    str,
    BeforeValidator(_without_spaces),
    Shaped(
        "[0-9]{6}|[A-Za-z0-9]{5}-?[A-Za-z0-9]{5}",
        f"{SIX_DIGITS} or {A_RECOVERY_CODE}",
        rf"^\s*(?:{_TOTP}|{_RECOVERY})$",
    ),
    Field(
        description="A current code or an unused recovery code.",
        examples=["123456"],
    ),
]


class DisableTwoFactor(RequestModel):
    password: Verbatim = Password
    code: SecondFactor


class CloseAccount(RequestModel):
    email: str = Field(
        min_length=1,
        max_length=320,
        description="The account's email address, typed out to confirm.",
        examples=["ada@example.com"],
    )
    password: Verbatim | None = Field(
        None,
        min_length=1,
        max_length=1024,
        description="Required unless the account signs in with Auth0 (it has no password).",
    )
    code: SecondFactor | None = Field(
        None, description="When two-factor sign-in is on: a current code or a recovery code."
    )


class ChangePassword(RequestModel):
    current_password: Verbatim = Password
    new_password: Verbatim = Field(
        min_length=1,
        max_length=1024,
        description="10-128 characters, not a commonly used password, not the current one.",
        json_schema_extra=NEW_PASSWORD,
    )
    code: SecondFactor | None = Field(
        None, description="When two-factor sign-in is on: a current code or a recovery code."
    )


class VerifyTwoFactor(RequestModel):
    """The second step of signing in: the mfaToken and either a code or a recovery code."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("code", "recoveryCode")
            ]
        }
    )

    mfa_token: str = Field(min_length=1, max_length=512)
    code: SecondFactor | None = Field(
        None,
        description="A current code or an unused recovery code (as the other confirmations "
        "take it).",
    )
    recovery_code: RecoveryCodeText | None = None

    @model_validator(mode="after")
    def _one_answer(self) -> VerifyTwoFactor:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send either code or recoveryCode")
        return self
