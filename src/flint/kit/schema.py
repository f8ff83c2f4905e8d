"""The base for every request and response body: camelCase on the wire, snake_case accepted."""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Self, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, core_schema

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
DECIMAL_TEXT = re.compile(rf"{_NUMBER}(?:[eE][+-]?[0-9]+)?")
"""The one grammar of a number given as text (money, quantities, prices): ASCII digits, a
point, an exponent. Python's `Decimal` also reads ``1_000``, full-width digits and ``NaN``,
which no request means."""
REQUEST_DECIMAL_TEXT = re.compile(_NUMBER)
"""What a request body's decimal is when given as text: `DECIMAL_TEXT` without an exponent,
digits with at most one point, as money is written. Each decimal field's range and scale is
then a pattern its document states exactly (`DecimalRange`), which no pattern could do for
exponents (``"1234e-3"`` within eight places and ``"1e12"`` at the top of a range)."""
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
    read every decimal given as text by `REQUEST_DECIMAL_TEXT`, refuse the NUL character in
    text (PostgreSQL cannot store it: it was a 500 there), and count a text's length as sent,
    as its document does, before stripping the whitespace around it (`_longest`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _decimal_text(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):  # the common case first: a large import checks millions
            decimal, verbatim, longest = _text_rules(cls).get(info.field_name or "", _PLAIN)
            if decimal and not is_decimal_text(value.strip(), REQUEST_DECIMAL_TEXT):
                raise ValueError(
                    "must be a decimal number written with ASCII digits and at most one point, "
                    "such as 1000 or 12.50"
                )
            if "\x00" in value and not verbatim:
                raise ValueError(NUL_REFUSED)
            if longest is not None and len(value) > longest:  # counted before stripping
                raise PydanticCustomError(
                    "string_too_long",
                    "String should have at most {max_length} characters",
                    {"max_length": longest},
                )
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
                    branch.setdefault("pattern", DECIMAL_SCHEMA_PATTERN)  # a range's own first
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


_PLAIN = (False, False, None)


@cache
def _text_rules(model: type[BaseModel]) -> dict[str, tuple[bool, bool, int | None]]:
    """Per field of ``model``, what a text given for it is held to, looked up once per text:
    whether it is a decimal (`_decimal_fields`), kept verbatim (`_verbatim_fields`), and its
    longest (`_longest`)."""
    decimals, verbatim, longest = _decimal_fields(model), _verbatim_fields(model), _longest(model)
    return {
        name: (name in decimals, name in verbatim, longest.get(name)) for name in model.model_fields
    }


@cache
def _longest(model: type[BaseModel]) -> dict[str, int]:
    """Each text field's ``maxLength`` as the model's document states it, which counts the text
    as sent: pydantic counted its ``max_length`` after stripping the whitespace around the text,
    so 200 no-break spaces after one letter passed as a name of one letter, longer than the
    document allows. (A field whose document states its length in a pattern that takes the
    whitespace, a symbol's, has no ``maxLength`` there and keeps pydantic's count; a verbatim
    one, a password's, is not stripped and has its own checks and words.)"""
    properties = model.model_json_schema(by_alias=True).get("properties", {})
    verbatim = _verbatim_fields(model)
    out: dict[str, int] = {}
    for name, field in model.model_fields.items():
        if name in verbatim:
            continue
        prop = properties.get(field.alias or name, {})
        for branch in prop.get("anyOf", [prop]):
            if branch.get("type") == "string" and isinstance(branch.get("maxLength"), int):
                out[name] = branch["maxLength"]
    return out


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


@dataclass(frozen=True)
class Side:
    """The magnitudes one side of zero takes: below ``10 ** digits``, and that bound itself when
    ``reaches``."""

    digits: int
    reaches: bool = True

    def __post_init__(self) -> None:
        if self.digits < 1:
            raise ValueError("a side's bound is 10 or more")

    @property
    def bound(self) -> Decimal:
        return Decimal(10) ** self.digits

    def pattern(self, places: int) -> str:
        """Text of a magnitude on this side (not zero; at most ``places`` decimals, then any
        zeros), in `REQUEST_DECIMAL_TEXT`'s grammar without its sign."""
        whole = rf"[1-9][0-9]{{0,{self.digits - 1}}}(?:\.[0-9]{{0,{places}}}0*)?"
        fraction = rf"\.[0-9]{{0,{places - 1}}}[1-9]0*"
        top = rf"|1{'0' * self.digits}(?:\.0*)?" if self.reaches else ""
        return rf"0*(?:{whole}|{fraction}{top})"


ZERO_TEXT = r"(?:0+(?:\.0*)?|0*\.0+)"


@dataclass(frozen=True)
class Shaped:
    """Text of a shape, refused in words: "must be <what>" where pydantic's own ``pattern``
    named its expression ("String should match pattern '^[A-Z]{3}$'"), which people typing
    ``usd`` or a recovery code cannot read. ``pattern`` is checked on the value as validated
    (after any earlier step, such as spaces taken out), ``documented`` is what the documents
    state of the text as sent (``pattern`` when it is the same)."""

    pattern: str
    what: str
    documented: str = ""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        shape = re.compile(self.pattern)

        def check(value: str) -> str:
            if shape.fullmatch(value) is None:
                raise ValueError(f"must be {self.what}")
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        document = handler(schema)
        whole = f"(?:{self.pattern})" if "|" in self.pattern else self.pattern
        document["pattern"] = self.documented or f"^{whole}$"
        return document


def refused_at(model: type[BaseModel], problems: list[tuple[str, str]]) -> ValidationError:
    """A model's own check refusing ``problems`` (a field's name on the wire, what is wrong),
    each named at its field (``body.price``), where a ``ValueError`` from a model validator
    is named at the whole body. Raise it from the validator; it nests like any field's error
    (``body.assets[2].price``, a file's ``line 7.price``)."""
    return ValidationError.from_exception_data(
        model.__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError("value_error", "{message}", {"message": message}),
                loc=(name,),
                input=None,
            )
            for name, message in problems
        ],
    )


def any_case(word: str) -> str:
    """A pattern of ``word`` in any ASCII case, for a document (ECMA-262 patterns take no
    flags): ``[Tt][Ee][Ss][Tt]``."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


@dataclass(frozen=True)
class DecimalRange:
    """A request decimal's range and scale as its schema states them, exactly: the number form
    bounded (``minimum``/``maximum``, exclusive where the bound is not taken), the text form
    a pattern of the values in range with at most ``places`` decimals (trailing zeros aside).
    Positive values are ``above`` zero's side, negative ones ``below`` it (none when absent);
    ``zero`` takes 0 (``-0`` too). Bounds are powers of ten.

    The validators enforce the same range with their own messages; this states it (an
    `Annotated` decimal's metadata, or `schema` for a model's conditional parts). What the
    number form cannot state is the scale: ``multipleOf: 0.00000001`` is inexact on the
    binary doubles a schema validator reads numbers as (three of it is 3.0000000000000004e-08)."""

    above: Side | None
    below: Side | None = None
    zero: bool = False
    places: int = 8

    def __post_init__(self) -> None:
        if self.places < 1:
            raise ValueError("a range's decimals are one or more")

    @property
    def top(self) -> Decimal:
        """The upper bound (taken or not)."""
        return self.above.bound if self.above is not None else Decimal(0)

    @property
    def bottom(self) -> Decimal:
        """The lower bound (taken or not)."""
        return -self.below.bound if self.below is not None else Decimal(0)

    def text_pattern(self) -> str:
        forms = []
        if self.above is not None:
            forms.append(rf"\+?{self.above.pattern(self.places)}")
        if self.below is not None:
            forms.append(rf"-{self.below.pattern(self.places)}")
        if self.zero:
            forms.append(rf"[+-]?{ZERO_TEXT}")
        return rf"^\s*(?:{'|'.join(forms)})\s*$"

    def number_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "number"}
        taken = self.zero if self.below is None else self.below.reaches
        out["minimum" if taken else "exclusiveMinimum"] = int(self.bottom)
        taken = self.zero if self.above is None else self.above.reaches
        out["maximum" if taken else "exclusiveMaximum"] = int(self.top)
        if not self.zero and self.above is not None and self.below is not None:
            out["not"] = {"const": 0}
        return out

    def schema(self) -> dict[str, Any]:
        """Both forms, as a decimal field's ``anyOf``."""
        return {"anyOf": [self.number_schema(), {"type": "string", "pattern": self.text_pattern()}]}

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for branch in target.get("anyOf", [target]):
            if branch.get("type") == "number":
                branch.update(self.number_schema())
            elif branch.get("type") == "string":
                branch["pattern"] = self.text_pattern()
        return schema
