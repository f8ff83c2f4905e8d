"""The base for every request and response body: camelCase on the wire, snake_case accepted."""

from __future__ import annotations

import re
import types
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Self, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
DECIMAL_TEXT = re.compile(rf"{_NUMBER}(?:[eE][+-]?[0-9]+)?")
"""The one grammar of a number given as text (money, quantities, prices): ASCII digits, a
point, an exponent. Python's `Decimal` also reads ``1_000``, full-width digits and ``NaN``,
which no request means."""
REQUEST_DECIMAL_TEXT = re.compile(rf"{_NUMBER}(?:[eE][+-]?[0-9]{{1,4}})?")
"""`DECIMAL_TEXT` with an exponent of at most four digits: what a request body's decimal is. A
longer one is past any amount Flint takes, and past Decimal's range it was refused as "not a
valid decimal" although the documents allowed it."""
DECIMAL_SCHEMA_PATTERN = rf"^\s*{REQUEST_DECIMAL_TEXT.pattern}\s*$"
"""`REQUEST_DECIMAL_TEXT` as the documents state it (surrounding whitespace is ignored)."""


def is_decimal_text(text: str, grammar: re.Pattern[str] = DECIMAL_TEXT) -> bool:
    """Whether ``text`` is a number by ``grammar`` (plain ASCII digits with at most one point,
    the common case, are answered without the expression: a 100,000-row import reads 400,000
    numbers)."""
    if text.isascii() and text.replace(".", "", 1).isdigit():
        return True  # [0-9]+, [0-9]+.[0-9]*, .[0-9]+: within either grammar
    return grammar.fullmatch(text) is not None


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        from_attributes=True,
    )

    @classmethod
    def from_fields(cls, data: Any) -> Self:
        """The model of ``data`` (an object's attributes or a mapping's keys) read by field name,
        the snake_case Flint's own objects use, never by the camelCase alias a request body may
        use. Validated as usual otherwise; a field with a ``validation_alias`` of its own is not
        for this. Pydantic tries each alias first, and on an object each miss raises (and
        catches) an AttributeError inside: about 1 µs more a daily bar (one of its six fields
        is aliased)."""
        return cls.model_validate(data, from_attributes=True, by_alias=False, by_name=True)


class RequestModel(ApiModel):
    """Request bodies refuse unknown fields so a misspelt name is an error, not silently ignored,
    read every decimal given as text by `DECIMAL_TEXT`, and refuse the NUL character in text
    (PostgreSQL cannot store it: it was a 500 there)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _decimal_text(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):  # the common case first: a large import checks millions
            name = info.field_name
            if name in _decimal_fields(cls) and not is_decimal_text(
                value.strip(), REQUEST_DECIMAL_TEXT
            ):
                raise ValueError(
                    "must be a decimal number written with ASCII digits (an exponent of at most "
                    "four digits), such as 1000 or 12.50"
                )
            if "\x00" in value and name not in _verbatim_fields(cls):
                raise ValueError(NUL_REFUSED)
        elif isinstance(value, list) and any(
            isinstance(text, str) and "\x00" in text for text in value
        ):
            raise ValueError(NUL_REFUSED)
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The text rules the server applies, in the document: a decimal field's text form
        carries `DECIMAL_SCHEMA_PATTERN` (the documents said any string, and only that grammar
        is read); any other text without a pattern of its own carries `NO_NUL`, or `NOT_BLANK`
        when it must not be empty (the body's text is stripped before its length is checked,
        so one of whitespace alone, ``"\\f"``, was refused although its length is 1)."""
        schema = handler.resolve_ref_schema(handler(core_schema))
        properties = schema.get("properties", {})
        decimals, verbatim = _decimal_fields(cls), _verbatim_fields(cls)
        for name, field in cls.model_fields.items():
            prop = properties.get(field.alias or name, {})
            for branch in prop.get("anyOf", [prop]):
                if branch.get("type") == "array":
                    branch = branch.get("items", {})
                if branch.get("type") != "string" or name in verbatim:
                    continue
                if name in decimals:
                    branch["pattern"] = DECIMAL_SCHEMA_PATTERN
                elif not {"pattern", "enum", "const", "format"} & set(branch):
                    required = branch.get("minLength", 0) >= 1
                    branch["pattern"] = NOT_BLANK if required else NO_NUL
        return schema


NUL_REFUSED = "must not contain the NUL character (U+0000)"
NO_NUL = r"^[^\x00]*$"
"""The pattern of a request's text: anything but the NUL character."""
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
"""The pattern of a text a request body must not leave empty: `NO_NUL`, with a character
that is not whitespace somewhere (whitespace as Python's ``str.strip`` takes it, which is what
a regular expression's ``\\s`` matches in Python)."""


@cache
def _verbatim_fields(model: type[BaseModel]) -> frozenset[str]:
    """Fields that keep their text as given (``StringConstraints(strip_whitespace=False)``, a
    password: every character of it counts, and it is never stored)."""
    return frozenset(
        name
        for name, field in model.model_fields.items()
        if any(getattr(item, "strip_whitespace", None) is False for item in field.metadata)
    )


@cache
def _decimal_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name for name, field in model.model_fields.items() if _holds_decimal(field.annotation)
    )


def _holds_decimal(annotation: Any) -> bool:
    if annotation is Decimal:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _holds_decimal(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(_holds_decimal(arg) for arg in get_args(annotation))
    return False
