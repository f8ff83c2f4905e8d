"""The base for every request and response body: camelCase on the wire, snake_case accepted."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        from_attributes=True,
    )


class RequestModel(ApiModel):
    """Request bodies refuse unknown fields so a misspelt name is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
