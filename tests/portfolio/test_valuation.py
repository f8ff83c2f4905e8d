"""The daily value and external flows of a ledger, worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flint.portfolio.valuation import Entry, Position, value

CLOSES = {
    "AAA": {date(2024, 1, 3): 52.0, date(2024, 1, 4): 55.0, date(2024, 1, 8): 50.0},
}


def test_cash_flows_dividends_and_a_sale_at_average_cost() -> None:
    ledger = [
        Entry(date(2024, 1, 2), "deposit", amount=D(1000)),
        Entry(date(2024, 1, 3), "buy", "AAA", D(10), D(50), fee=D(1)),
        Entry(date(2024, 1, 4), "dividend", "AAA", amount=D(5)),
        Entry(date(2024, 1, 5), "withdrawal", amount=D(100)),
        Entry(date(2024, 1, 8), "sell", "AAA", D(4), D(50), fee=D(2)),
    ]
    result = value(ledger, CLOSES, date(2024, 1, 8))
    assert result.dates == [date(2024, 1, d) for d in (2, 3, 4, 5, 8)]
    # cash 1000, 499, 504, 404, 602; units 0, 10, 10, 10, 6; closes -, 52, 55, 55 (carried), 50
    assert result.cash.tolist() == [1000, 499, 504, 404, 602]
    assert result.values.tolist() == [1000, 1019, 1054, 954, 902]
    assert result.flows.tolist() == [1000, 0, 0, -100, 0]
    assert result.positions == {"AAA": Position("AAA", D(6), D("300.6"))}
    assert result.realized == D("-2.4")  # 198 proceeds less 4/10 of the 501 cost
    assert result.dividends == D(5)
    assert result.fees == D(3)


def test_lots_alone_are_funded_from_outside_and_splits_multiply_units() -> None:
    ledger = [
        Entry(date(2024, 1, 3), "buy", "AAA", D(2), D(100)),
        Entry(date(2024, 1, 4), "buy", "AAA", D(1), D(110)),
        Entry(date(2024, 1, 8), "split", "AAA", D(3)),
    ]
    result = value(ledger, CLOSES, date(2024, 1, 8))
    assert result.dates == [date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 8)]
    assert result.flows.tolist() == [200, 110, 0]
    assert result.cash.tolist() == [0, 0, 0]
    assert result.values.tolist() == [104, 165, 450]  # 2x52, 3x55, 9x50
    assert result.positions["AAA"] == Position("AAA", D(9), D(310))


def test_a_symbol_without_closes_is_valued_at_its_purchase_price() -> None:
    ledger = [Entry(date(2024, 1, 3), "buy", "MY:HOUSE", D(1), D("250000"))]
    result = value(ledger, {}, date(2024, 1, 3))
    assert result.values.tolist() == [250000]


def test_entries_after_the_end_are_left_out() -> None:
    ledger = [
        Entry(date(2024, 1, 3), "buy", "AAA", D(1), D(50)),
        Entry(date(2024, 1, 8), "buy", "AAA", D(1), D(50)),
    ]
    result = value(ledger, CLOSES, date(2024, 1, 4))
    assert result.dates == [date(2024, 1, 3), date(2024, 1, 4)]
    assert np.array_equal(result.quantities[:, 0], [1, 1])


def test_an_empty_ledger_has_no_days() -> None:
    result = value([], CLOSES, date(2024, 1, 8))
    assert result.dates == []
    assert result.values.size == 0


@pytest.mark.parametrize("ratio", ["2", "0.5"])
def test_a_split_keeps_the_cost(ratio: str) -> None:
    ledger = [
        Entry(date(2024, 1, 3), "buy", "AAA", D(4), D(50)),
        Entry(date(2024, 1, 4), "split", "AAA", D(ratio)),
    ]
    result = value(ledger, CLOSES, date(2024, 1, 4))
    assert result.positions["AAA"] == Position("AAA", D(4) * D(ratio), D(200))


def test_cash_and_flows_are_also_kept_exact_and_cash_alone_is_valued_every_day() -> None:
    ledger = [
        Entry(date(2024, 1, 6), "deposit", amount=D("0.1")),
        Entry(date(2024, 1, 6), "deposit", amount=D("0.2")),
        Entry(date(2024, 1, 9), "interest", amount=D("0.01")),
    ]
    result = value(ledger, {}, date(2024, 1, 10), every_day=True)
    assert result.dates == [date(2024, 1, d) for d in range(6, 11)]
    assert result.exact_cash == [D("0.3")] * 3 + [D("0.31")] * 2
    assert result.exact_flows == [D("0.3"), D(0), D(0), D(0), D(0)]
    assert value(ledger, {}, date(2024, 1, 5), every_day=True).dates == []


def test_through_end_values_the_day_asked_for() -> None:
    ledger = [Entry(date(2024, 1, 3), "buy", "AAA", D(1), D(50))]
    assert value(ledger, CLOSES, date(2024, 1, 6)).dates[-1] == date(2024, 1, 4)
    ends = value(ledger, CLOSES, date(2024, 1, 6), through_end=True)
    assert ends.dates[-1] == date(2024, 1, 6)
    assert ends.values[-1] == 55.0


_TRADES = st.lists(
    st.tuples(
        st.integers(0, 20),  # the day, after 2024-01-01
        st.sampled_from(["AAA", "BBB", "CCC"]),
        st.sampled_from(["buy", "sell", "split"]),
        st.integers(1, 5),
    ),
    min_size=1,
    max_size=40,
)


@given(_TRADES)
def test_the_units_of_each_day_are_those_held_at_its_end(
    trades: list[tuple[int, str, str, int]],
) -> None:
    """Each day's units, symbol by symbol, are what a replay of the ledger up to that day's
    last row holds (sales and splits included, several rows a day, days without rows)."""
    start = date(2024, 1, 1)
    ledger = [Entry(start, "deposit", amount=D(10**9))]
    for offset, symbol, kind, size in sorted(trades, key=lambda t: t[0]):
        day = start + timedelta(days=offset)
        if kind == "buy":
            ledger.append(Entry(day, "buy", symbol, D(size), D(10)))
        elif kind == "sell":
            ledger.append(Entry(day, "sell", symbol, D(size) / 10, D(10)))
        else:
            ledger.append(Entry(day, "split", symbol, D(size)))
    result = value(ledger, {}, start + timedelta(days=25), every_day=True)
    for row, day in enumerate(result.dates):
        held: dict[str, D] = {}
        for entry in ledger:
            if entry.date > day or entry.symbol is None:
                continue
            units = held.get(entry.symbol, D(0))
            assert entry.quantity is not None
            if entry.type == "buy":
                held[entry.symbol] = units + entry.quantity
            elif entry.type == "sell":
                held[entry.symbol] = units - entry.quantity
            else:
                held[entry.symbol] = units * entry.quantity
        expected = [float(held.get(symbol, D(0))) for symbol in result.symbols]
        assert result.quantities[row].tolist() == expected, day
