"""Ticker symbols as Flint accepts them: AAPL, BRK.B, BTC-USD, ^GSPC, EURUSD=X."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

SYMBOL_PATTERN = re.compile(r"^[A-Z0-9.\-^=]{1,15}$")
SYMBOL_RULE = "1-15 characters: letters, digits and . - ^ ="


def normalize_symbol(value: str) -> str:
    """Upper-case and check a symbol; raises ValueError naming the rule."""
    symbol = value.strip().upper()
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise ValueError(f"invalid symbol {value[:20]!r}: expected {SYMBOL_RULE}")
    return symbol


def _upper_if_str(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


Symbol = Annotated[
    str,
    BeforeValidator(_upper_if_str),
    Field(min_length=1, max_length=15, examples=["AAPL"], description=SYMBOL_RULE),
    AfterValidator(normalize_symbol),
]
