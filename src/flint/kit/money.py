"""Decimals on the wire: exact in the domain, JSON numbers in responses.

Prices and amounts stay `Decimal` end to end; only the response encoder turns them into JSON
numbers, through their shortest decimal form, so `189.84` is sent as `189.84`. Values with more
than 15 significant digits (none that Flint produces for prices) would lose the excess digits.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

JsonDecimal = Annotated[
    Decimal,
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number"}),
]


def _money_text(value: Decimal) -> str:
    """At least two decimal places (``"2.00"``, ``"0.015"``), every digit kept."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return format(value, "f")


DecimalString = Annotated[
    Decimal,
    PlainSerializer(_money_text, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "decimal"}),
]
"""Money sent as a decimal string (``"1234.50"``): every digit kept, whatever the client's
JSON numbers are."""
