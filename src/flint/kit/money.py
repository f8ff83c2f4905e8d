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
