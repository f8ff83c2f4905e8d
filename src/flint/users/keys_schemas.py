"""The API-key routes' bodies: what a new key asks for, and a key as listed (never the key)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, Field, field_validator

from flint.kit.schema import ApiModel, RequestModel
from flint.kit.time import utcnow
from flint.users.models import ApiKey
from flint.users.scopes import Scope


class CreateApiKey(RequestModel):
    name: str = Field(min_length=1, max_length=100, description="To tell your keys apart.")
    scopes: list[Scope] = Field(
        min_length=1,
        max_length=3,
        description="`read` (every GET), `write` (changes other than trading), `trade` "
        "(placing and cancelling trades). Each is separate: a script that reads and trades "
        "asks for both.",
    )
    expires_at: AwareDatetime | None = Field(
        None, description="When the key stops working (in the future); none: until revoked."
    )

    @field_validator("expires_at")
    @classmethod
    def in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= utcnow():
            raise ValueError("must be in the future")
        return value


class ApiKeyOut(ApiModel):
    id: uuid.UUID = Field(examples=["5b0e6f5e-3c1d-4a8e-9d0b-2f1c7a9e4b61"])
    name: str = Field(examples=["Nightly export"])
    prefix: str = Field(
        description="The key's first characters, to recognise it.", examples=["flint_Qx7v3K"]
    )
    scopes: list[Scope] = Field(examples=[["read"]])
    created_at: datetime = Field(examples=["2026-12-03T19:30:00Z"])
    last_used_at: datetime | None = Field(
        description="Recorded at most once a minute.", examples=["2026-12-03T20:05:00Z"]
    )
    expires_at: datetime | None = Field(examples=["2027-12-03T00:00:00Z"])

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyOut:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            scopes=[Scope(name) for name in row.scopes.split()],
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
        )


class CreatedApiKey(ApiKeyOut):
    key: str = Field(
        description="The key itself, shown only now: Flint keeps only its hash.",
        examples=["flint_Qx7v3KpL2mN8rT4wY6zA1bC3dE5fG7hJ9kM0nP2qR4s"],
    )


class ApiKeyList(ApiModel):
    api_keys: list[ApiKeyOut]
