"""Ticker symbols as Flint accepts them: AAPL, BRK.B, BTC-USD, ^GSPC, EURUSD=X; and the
namespaced symbols of a user's own custom assets (MY:HOUSE), which no listed symbol resembles."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9.\-^=]{1,15}$")
SYMBOL_RULE = "1-15 characters: letters, digits and . - ^ ="
_LISTED = r"[A-Za-z0-9.^=-]{1,15}"
_CUSTOM = r"[A-Za-z][A-Za-z0-9]{0,7}:[A-Za-z0-9][A-Za-z0-9._-]{0,22}"
SYMBOL_SCHEMA_PATTERN = rf"^\s*{_LISTED}\s*$"
CUSTOM_SYMBOL_SCHEMA_PATTERN = rf"^\s*{_CUSTOM}\s*$"
ANY_SYMBOL_SCHEMA_PATTERN = rf"^\s*(?:{_LISTED}|{_CUSTOM})\s*$"
"""What the documents say a symbol is, exactly what the server takes: ASCII letters of either
case, surrounding whitespace ignored (so no length limits beside the pattern's own)."""


def schema_pattern(pattern: str) -> Callable[[dict[str, Any]], None]:
    """A field's JSON Schema: `pattern` in place of the length limits (which the server
    applies to the stripped text)."""

    def edit(schema: dict[str, Any]) -> None:
        schema.pop("minLength", None)
        schema.pop("maxLength", None)
        schema["pattern"] = pattern

    return edit


def _folded(value: str) -> str:
    """Stripped, and upper-cased when ASCII: ``"ﬀ".upper()`` is ``"FF"``, which would make a
    symbol of a character no symbol has."""
    value = value.strip()
    return value.upper() if value.isascii() else value


@lru_cache(maxsize=4096)
def normalize_symbol(value: str) -> str:
    """Upper-case and check a symbol; raises ValueError naming the rule (remembered: a
    100,000-row import names a few hundred symbols)."""
    symbol = _folded(value)
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise ValueError(f"invalid symbol {value[:20]!r}: expected {SYMBOL_RULE}")
    return symbol


def _upper_if_str(value: object) -> object:
    return _folded(value) if isinstance(value, str) else value


Symbol = Annotated[
    str,
    BeforeValidator(_upper_if_str),
    Field(
        min_length=1,
        max_length=15,
        examples=["AAPL"],
        description=SYMBOL_RULE,
        json_schema_extra=schema_pattern(SYMBOL_SCHEMA_PATTERN),
    ),
    AfterValidator(normalize_symbol),
]


CUSTOM_SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{0,7}:[A-Z0-9][A-Z0-9._\-]{0,22}$")
CUSTOM_SYMBOL_RULE = (
    "NAMESPACE:NAME: a namespace of 1-8 letters or digits (starting with a letter), a colon, "
    "and a name of 1-23 letters, digits and . _ -"
)


def is_custom(symbol: str) -> bool:
    return ":" in symbol


def normalize_custom_symbol(value: str) -> str:
    symbol = _folded(value)
    if not CUSTOM_SYMBOL_PATTERN.fullmatch(symbol):
        raise ValueError(f"invalid custom symbol {value[:40]!r}: expected {CUSTOM_SYMBOL_RULE}")
    return symbol


def normalize_any_symbol(value: str) -> str:
    """A listed symbol or a custom asset's namespaced one."""
    if is_custom(value):
        return normalize_custom_symbol(value)
    return normalize_symbol(value)


CustomSymbol = Annotated[
    str,
    BeforeValidator(_upper_if_str),
    Field(
        min_length=3,
        max_length=32,
        examples=["MY:HOUSE"],
        description=CUSTOM_SYMBOL_RULE,
        json_schema_extra=schema_pattern(CUSTOM_SYMBOL_SCHEMA_PATTERN),
    ),
    AfterValidator(normalize_custom_symbol),
]

AnySymbol = Annotated[
    str,
    BeforeValidator(_upper_if_str),
    Field(
        min_length=1,
        max_length=32,
        examples=["AAPL"],
        description=f"A listed symbol ({SYMBOL_RULE}) or one of your custom assets "
        f"({CUSTOM_SYMBOL_RULE})",
        json_schema_extra=schema_pattern(ANY_SYMBOL_SCHEMA_PATTERN),
    ),
    AfterValidator(normalize_any_symbol),
]
