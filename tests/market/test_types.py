from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flint.market.providers.types import (
    HistoryRangeTooLarge,
    InstrumentType,
    Interval,
    SymbolNotFound,
    quantize_percent,
    quantize_price,
)

prices = st.floats(min_value=1e-15, max_value=1e9, allow_nan=False, allow_infinity=False)
kinds = st.sampled_from(list(InstrumentType))


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (189.98765, InstrumentType.EQUITY, "189.99"),
        (0.123456, InstrumentType.EQUITY, "0.1235"),
        (5123.456, InstrumentType.INDEX, "5123.46"),
        (61234.5678, InstrumentType.CRYPTO, "61234.57"),
        (0.0000123456789, InstrumentType.CRYPTO, "0.0000123457"),
        (1.0823456, InstrumentType.FX, "1.08235"),
        (151.234567, InstrumentType.FX, "151.235"),
        (0.8512345, InstrumentType.FX, "0.851235"),
    ],
)
def test_prices_are_quantized_by_kind_and_magnitude(
    value: float, kind: InstrumentType, expected: str
) -> None:
    assert str(quantize_price(value, kind)) == expected


@given(a=prices, b=prices, kind=kinds)
def test_quantizing_never_reverses_the_order_of_two_prices(
    a: float, b: float, kind: InstrumentType
) -> None:
    low, high = sorted((a, b))
    assert quantize_price(low, kind) <= quantize_price(high, kind)


@given(value=prices, kind=kinds)
def test_a_positive_price_stays_positive_after_quantizing(
    value: float, kind: InstrumentType
) -> None:
    assert quantize_price(value, kind) > 0


@given(
    value=st.one_of(
        prices,
        st.floats(min_value=1.0, max_value=1e16),
        # Exact ties at the last place kept (x.xxx5 and x.xx5) round half-even.
        st.integers(min_value=2_000, max_value=20_000).map(lambda n: (n + 0.5) / 1000),
        st.integers(min_value=2_000, max_value=2_000_000).map(lambda n: (n + 0.5) / 100),
        st.integers(min_value=0, max_value=20).map(lambda n: 10.0**n / 8),
    ),
    kind=kinds,
)
def test_a_float_price_is_quantized_as_its_exact_decimal_value(
    value: float, kind: InstrumentType
) -> None:
    fast, exact = quantize_price(value, kind), quantize_price(Decimal(value), kind)
    assert fast == exact
    assert str(fast) == str(exact)  # the same places too


def test_percentages_have_two_decimal_places() -> None:
    assert quantize_percent(Decimal("1.23456")) == Decimal("1.23")


def test_intervals_know_their_length_and_kind() -> None:
    assert [i.value for i in Interval] == ["1m", "5m", "15m", "1h", "1d", "1wk", "1mo"]
    assert Interval("1h").seconds == 3600
    assert Interval.M1.is_intraday
    assert not Interval.D1.is_intraday
    with pytest.raises(ValueError, match="no fixed length"):
        _ = Interval.W1.seconds


def test_errors_carry_what_the_web_layer_needs() -> None:
    missing = SymbolNotFound("XYZ")
    assert missing.symbol == "XYZ"
    assert "XYZ" in str(missing)
    too_long = HistoryRangeTooLarge(Interval.M1, 40, 31)
    assert isinstance(too_long, ValueError)
    assert (too_long.interval, too_long.days, too_long.max_days) == (Interval.M1, 40, 31)
