"""Every request decimal's range and scale is in its schema, exactly: a text the schema allows
is one the server takes, and one it refuses the server refuses too (schemathesis found the
servers' ranges, `at most 1,000,000,000` and `at most 8 decimal places`, nowhere in the
documents: schema-valid requests refused). JSON numbers too, but for their scale, which no
schema validator can check on doubles (`flint.kit.schema.DecimalRange`).

Each body is checked against its model's own schema (with the validator the contract tests
use) and validated by the model, as a request's body is."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from flint.alerts.schemas import AlertIn
from flint.kit.schema import DecimalRange, Side
from flint.portfolio.assets.schemas import PricePointIn
from flint.portfolio.schemas import AssetIn, TransactionIn
from flint.trades.schemas import ExecuteTrade

BUY = {"date": "2024-01-02", "type": "buy", "symbol": "AAPL", "quantity": "1", "price": "1"}
ORDER = {
    "accountId": "6e8a0c2e-4a6c-4e8b-a1c3-5e7a9c1e3b4d",
    "asset": "AAPL",
    "action": "buy",
    "quantity": "1",
}
LIMIT = ORDER | {"orderType": "limit", "limitPrice": "1"}
STOP = ORDER | {"orderType": "stop", "stopPrice": "1"}

FIELDS: list[tuple[type[BaseModel], dict[str, Any], str]] = [
    (TransactionIn, BUY, "quantity"),
    (TransactionIn, BUY, "price"),
    (TransactionIn, BUY, "fee"),
    (TransactionIn, {"date": "2024-01-02", "type": "deposit", "amount": "1"}, "amount"),
    (ExecuteTrade, ORDER, "quantity"),
    (ExecuteTrade, LIMIT, "limitPrice"),
    (ExecuteTrade, STOP, "stopPrice"),
    (AlertIn, {"symbol": "AAPL", "condition": "above", "threshold": "1"}, "threshold"),
    (AlertIn, {"symbol": "AAPL", "condition": "percent_change", "threshold": "1"}, "threshold"),
    (
        AssetIn,
        {"symbol": "AAPL", "quantity": "1", "purchasePrice": "1", "purchaseDate": "2024-01-02"},
        "quantity",
    ),
    (
        AssetIn,
        {"symbol": "AAPL", "quantity": "1", "purchasePrice": "1", "purchaseDate": "2024-01-02"},
        "purchasePrice",
    ),
    (PricePointIn, {"date": "2024-01-02", "price": "1"}, "price"),
]
IDS = [f"{model.__name__}.{name}" for model, body, name in FIELDS]


def verdicts(model: type[BaseModel], body: dict[str, Any], name: str) -> Callable[[Any], bool]:
    """Whether the schema allows ``value`` as the field, checked to agree with the server."""
    validator = Draft202012Validator(model.model_json_schema())
    snake = model.model_fields
    field = next(key for key, info in snake.items() if (info.alias or key) == name)
    assert validator.is_valid(body)
    model.model_validate(body)

    def check(value: Any) -> bool:
        request = body | {name: value}
        allowed = validator.is_valid(request)
        try:
            model.model_validate(request)
            taken = True
        except ValidationError as exc:
            taken = not any(error["loc"][:1] in ((field,), (name,)) for error in exc.errors())
        assert allowed == taken, (value, "schema allows" if allowed else "schema refuses")
        return allowed

    return check


digits = st.text("0123456789", max_size=14)
texts = st.one_of(
    # The grammar's parts: whitespace, a sign, leading zeros, digits, a point, fraction digits
    # and trailing zeros, near every bound (10^k, 10^k and a bit, eight places and nine).
    st.builds(
        lambda space, sign, zeros, whole, point, fraction, tail, end: (
            f"{space}{sign}{zeros}{whole}{point}{fraction}{tail}{end}"
        ),
        st.sampled_from(["", " ", "\t"]),
        st.sampled_from(["", "+", "-"]),
        st.sampled_from(["", "0", "000"]),
        st.one_of(digits, st.sampled_from(["1" + "0" * k for k in (2, 3, 8, 9, 12, 13)])),
        st.sampled_from(["", "."]),
        digits,
        st.sampled_from(["", "0", "0000", "1", "00000001"]),
        st.sampled_from(["", " ", "e3", "E-2", "_0", "x"]),
    ),
    st.text(max_size=8),
)


@pytest.mark.parametrize(("model", "body", "name"), FIELDS, ids=IDS)
@given(text=texts)
@example(text="1e3")
@example(text="0.000000001")
@example(text="-0")
@example(text="1000000000000.000000000")
@example(text="100")
@example(text="-100")
@example(text="-99.9999")
def test_a_decimal_texts_range_is_its_schemas(
    model: type[BaseModel], body: dict[str, Any], name: str, text: str
) -> None:
    verdicts(model, body, name)(text)


@pytest.mark.parametrize(("model", "body", "name"), FIELDS, ids=IDS)
@given(
    number=st.one_of(
        st.integers(min_value=-(10**14), max_value=10**14),
        st.decimals(places=4, allow_nan=False, allow_infinity=False).map(float),
        st.sampled_from([10**8, 10**9, 10**12, 10**9 + 1, -100, 1000, 1000.5, 0, -0.0]),
    )
)
def test_a_decimal_numbers_range_is_its_schemas(
    model: type[BaseModel], body: dict[str, Any], name: str, number: float
) -> None:
    """Numbers of at most four decimals (every field takes four): their scale is never what
    refuses them, so the schema's bounds alone decide."""
    verdicts(model, body, name)(number)


def test_the_patterns_are_built_as_said() -> None:
    """A hand-written reading of one range, against the pattern made for it."""
    percent = DecimalRange(Side(3), below=Side(2, reaches=False), places=4)
    pattern = Draft202012Validator({"type": "string", "pattern": percent.text_pattern()})
    for text in ["1000", "+1000.0000", "0.0001", "-99.9999", " 5 ", "12.34500000"]:
        assert pattern.is_valid(text), text
    for text in ["1000.0001", "-100", "0", "-0.0", "0.00001", "1e3", "- 5", "."]:
        assert not pattern.is_valid(text), text
    assert percent.number_schema() == {
        "type": "number",
        "exclusiveMinimum": -100,
        "maximum": 1000,
        "not": {"const": 0},
    }
    assert Decimal(10) ** 3 == Side(3).bound
