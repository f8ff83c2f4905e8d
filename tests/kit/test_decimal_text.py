"""`is_decimal_text` answers exactly what `DECIMAL_TEXT` does (its shortcut for plain digits
included), and both refuse what Python's Decimal reads but no request means."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flint.kit.schema import DECIMAL_TEXT, REQUEST_DECIMAL_TEXT, is_decimal_text

ALPHABET = "0123456789.eE+-_ \u0661\uff12\u00b2"


@given(st.text(alphabet=ALPHABET, max_size=12))
def test_the_shortcut_agrees_with_the_grammar(text: str) -> None:
    assert is_decimal_text(text) == (DECIMAL_TEXT.fullmatch(text) is not None)
    request = REQUEST_DECIMAL_TEXT.fullmatch(text) is not None
    assert is_decimal_text(text, REQUEST_DECIMAL_TEXT) == request


@pytest.mark.parametrize("text", ["1e3", "+2.5E-2"])
def test_a_requests_decimal_has_no_exponent(text: str) -> None:
    """A file's numbers may (`DECIMAL_TEXT`); a request's may not (`REQUEST_DECIMAL_TEXT`)."""
    assert is_decimal_text(text)
    assert not is_decimal_text(text, REQUEST_DECIMAL_TEXT)


@pytest.mark.parametrize("text", ["1", "12.50", ".5", "5.", "-1.5", "1e3", "+2.5E-2"])
def test_numbers(text: str) -> None:
    assert is_decimal_text(text)


@pytest.mark.parametrize(
    "text", ["", ".", "1_000", "\uff11\uff12", "\u0661", "1.2.3", "NaN", "2\u00b2"]
)
def test_not_numbers(text: str) -> None:
    assert not is_decimal_text(text)
