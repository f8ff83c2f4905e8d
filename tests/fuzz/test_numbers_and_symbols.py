"""Numbers, money and symbols from arbitrary text: a finite Decimal (or a valid symbol) or
the clean refusal the code intends (ValueError, pydantic's ValidationError: a 422), never
InvalidOperation, Overflow, IndexError or the like."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from flint.kit.money import as_price, in_currency, minor_units
from flint.kit.schema import DECIMAL_TEXT
from flint.kit.symbols import (
    CUSTOM_SYMBOL_PATTERN,
    SYMBOL_PATTERN,
    normalize_any_symbol,
    normalize_symbol,
)
from flint.market.providers.alpha_vantage.mapping import Symbol as AlphaVantageSymbol
from flint.market.universe import load_universe
from flint.portfolio.imports.numbers import day, decimal_comma_in, number, optional_number
from flint.portfolio.schemas import MAX_AMOUNT, TransactionIn
from flint.trades.schemas import ExecuteTrade
from tests.fuzz.support import cell_text, fuzz, json_values, numberish

ASCII_NUMBER = st.from_regex(
    r"[+-]?[0-9]{1,20}(\.[0-9]{0,10})?([eE][+-]?[0-9]{1,7})?", fullmatch=True
)


@fuzz(400)
@given(text=cell_text, comma=st.sampled_from([None, True, False]))
def test_a_brokers_number_is_finite_or_refused(text: str, comma: bool | None) -> None:
    try:
        value = number(text, decimal_comma=comma)
    except ValueError:
        return
    assert value.is_finite()
    assert any("0" <= c <= "9" for c in text), "a number read from text without a digit"


@fuzz(200)
@given(text=st.one_of(st.none(), cell_text))
def test_an_optional_number_is_none_finite_or_refused(text: str | None) -> None:
    try:
        value = optional_number(text)
    except ValueError:
        return
    assert value is None or value.is_finite()


@fuzz(100)
@given(cells=st.lists(cell_text, max_size=8))
def test_the_decimal_mark_of_any_cells(cells: list[str]) -> None:
    assert decimal_comma_in(cells) in (None, True, False)


@fuzz(200)
@given(
    text=cell_text,
    formats=st.lists(
        st.sampled_from(
            ["%Y%m%d", "%Y-%m-%d", "%d-%m-%Y", "%m/%d/%Y", "%Y-%m-%d %H:%M:%S", "%Y%m%d;%H%M%S"]
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_a_day_is_read_or_refused(text: str, formats: list[str]) -> None:
    why = "not a date"
    try:
        day(text, formats)
    except ValueError as exc:
        why = str(exc)
    assert "not a date" in why


@fuzz(300)
@given(text=st.one_of(numberish, st.text(max_size=20)))
def test_what_the_request_grammar_admits_is_a_finite_decimal(text: str) -> None:
    if DECIMAL_TEXT.fullmatch(text.strip()):
        assert Decimal(text.strip()).is_finite()
        assert all(c in "0123456789+-.eE" for c in text.strip())


def transaction(**fields: Any) -> TransactionIn | None:
    body = {"date": "2024-01-02", "type": "buy", "symbol": "AAPL", "quantity": "1", "price": "1"}
    try:
        return TransactionIn.model_validate(body | fields)
    except ValidationError:
        return None


@fuzz(300)
@given(
    field=st.sampled_from(["quantity", "price", "fee"]),
    value=st.one_of(numberish, json_values, ASCII_NUMBER),
)
def test_a_ledger_number_is_finite_and_bounded_or_422(field: str, value: Any) -> None:
    entry = transaction(**{field: value})
    if entry is not None:
        read = getattr(entry, field)
        assert read.is_finite()
        assert Decimal(0) <= read <= MAX_AMOUNT
        assert read == read.quantize(Decimal("1e-8"))
        assert in_currency(read, "USD").is_finite()  # money work on it cannot overflow
        assert in_currency(read, "KWD").is_finite()


@fuzz(200)
@given(
    field=st.sampled_from(["quantity", "limitPrice"]),
    value=st.one_of(numberish, json_values, ASCII_NUMBER),
)
def test_an_order_number_is_finite_or_422(field: str, value: Any) -> None:
    body: dict[str, Any] = {
        "accountId": str(uuid.uuid4()),
        "asset": "AAPL",
        "action": "buy",
        "quantity": "1",
        "orderType": "limit",
        "limitPrice": "10",
    }
    try:
        order = ExecuteTrade.model_validate(body | {field: value})
    except ValidationError:
        return
    assert order.quantity.is_finite()
    assert order.quantity > 0
    assert order.limit_price is not None
    assert order.limit_price.is_finite()


@fuzz(200)
@given(value=st.decimals(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT, places=12))
def test_money_rounding_of_any_ledger_value(value: Decimal) -> None:
    assert in_currency(value, "JPY") == value.quantize(Decimal(1), "ROUND_HALF_EVEN")
    assert as_price(value).is_finite()


@fuzz(100)
@given(currency=st.text(max_size=6))
def test_minor_units_of_any_code(currency: str) -> None:
    assert minor_units(currency) in (0, 2, 3, 4)


@fuzz(400)
@given(
    text=st.one_of(st.text(max_size=40), st.from_regex(r"[A-Za-z0-9.\-^=: ]{0,34}", fullmatch=True))
)
def test_a_symbol_is_normalised_or_refused(text: str) -> None:
    try:
        symbol = normalize_symbol(text)
    except ValueError as exc:
        symbol = str(exc)
        assert "invalid symbol" in symbol
    else:
        assert SYMBOL_PATTERN.fullmatch(symbol)
        assert normalize_symbol(symbol) == symbol
    try:
        symbol = normalize_any_symbol(text)
    except ValueError as exc:
        symbol = str(exc)
        assert "invalid" in symbol
    else:
        assert SYMBOL_PATTERN.fullmatch(symbol) or CUSTOM_SYMBOL_PATTERN.fullmatch(symbol)
        assert symbol.isascii()


@fuzz(200)
@given(value=st.one_of(json_values, st.text(max_size=40)))
def test_a_ledger_symbol_is_valid_or_422(value: Any) -> None:
    entry = transaction(symbol=value)
    if entry is not None:
        assert entry.symbol is not None
        assert SYMBOL_PATTERN.fullmatch(entry.symbol) or CUSTOM_SYMBOL_PATTERN.fullmatch(
            entry.symbol
        )


UNIVERSE = load_universe()


@fuzz(300)
@given(text=st.one_of(st.text(max_size=20), st.from_regex(r"[A-Z0-9.\-^=:]{0,12}", fullmatch=True)))
def test_the_vendors_and_the_universe_take_any_symbol_text(text: str) -> None:
    """What a vendor adapter is asked for and the universe's lookup: an answer, never an
    exception, whatever the text (the routes check symbols first; the adapters do not rely
    on it)."""
    asked = AlphaVantageSymbol.parse(text)
    assert isinstance(asked.currency, str)
    found = UNIVERSE.instrument(text)
    # The lookup is case-insensitive and finds ``BRK.B`` as ``BRK-B`` (`Universe.get`).
    key = text.strip().upper()
    assert found is None or found.symbol in (key, key.replace(".", "-"))
