"""FIFO tax lots: which lots a sale closes, how proceeds and cost are shared, splits, terms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flint.portfolio.valuation import Entry
from flint.reports.lots import anniversary, fifo, term

D = Decimal


def buy(day: date, symbol: str, quantity: str, price: str, fee: str = "0") -> Entry:
    return Entry(day, "buy", symbol, D(quantity), D(price), D(fee))


def sell(day: date, symbol: str, quantity: str, price: str, fee: str = "0") -> Entry:
    return Entry(day, "sell", symbol, D(quantity), D(price), D(fee))


def test_a_sale_closes_the_oldest_lots_first_and_shares_its_proceeds_by_units() -> None:
    entries = [
        buy(date(2023, 1, 10), "AAPL", "10", "100", fee="5"),
        buy(date(2023, 6, 1), "AAPL", "10", "120"),
        sell(date(2024, 3, 1), "AAPL", "15", "130", fee="3"),
    ]
    lots = fifo(entries, {"AAPL": D("140")}, date(2024, 6, 30))

    first, second = lots.closed
    assert (first.acquired, first.quantity, first.cost) == (date(2023, 1, 10), D(10), D(1005))
    assert first.proceeds == (D(15) * D(130) - D(3)) * D(10) / D(15)
    assert first.term == "long"
    assert (second.acquired, second.quantity, second.cost) == (date(2023, 6, 1), D(5), D(600))
    assert second.term == "short"
    assert first.proceeds + second.proceeds == D(15) * D(130) - D(3)
    assert first.gain + second.gain == D(1947) - D(1605)

    (left,) = lots.open
    assert (left.acquired, left.quantity, left.cost) == (date(2023, 6, 1), D(5), D(600))
    assert left.value == D(700)
    assert left.gain == D(100)
    assert left.term == "long"  # judged on the report's end date


def test_a_split_multiplies_the_units_of_open_lots_and_keeps_their_cost_and_date() -> None:
    entries = [
        buy(date(2024, 1, 2), "NVDA", "3", "600"),
        Entry(date(2024, 6, 10), "split", "NVDA", D(10)),
        sell(date(2024, 7, 1), "NVDA", "12", "125"),
    ]
    lots = fifo(entries, {"NVDA": D("130")}, date(2024, 7, 31))
    (closed,) = lots.closed
    assert closed.quantity == D(12)
    assert closed.cost == D(1800) * D(12) / D(30)
    assert closed.acquired == date(2024, 1, 2)
    (still,) = lots.open
    assert still.quantity == D(18)
    assert still.cost == D(1800) - closed.cost


def test_entries_after_the_end_date_and_other_symbols_stay_apart() -> None:
    entries = [
        buy(date(2024, 1, 2), "AAPL", "1", "100"),
        buy(date(2024, 1, 3), "MSFT", "2", "300"),
        sell(date(2024, 2, 1), "MSFT", "2", "310"),
        sell(date(2024, 5, 1), "AAPL", "1", "150"),
    ]
    lots = fifo(entries, {"AAPL": D("120")}, date(2024, 3, 1))
    assert [(c.symbol, c.quantity) for c in lots.closed] == [("MSFT", D(2))]
    assert [(o.symbol, o.quantity) for o in lots.open] == [("AAPL", D(1))]


def test_long_term_starts_the_day_after_the_first_anniversary() -> None:
    assert term(date(2023, 3, 15), date(2024, 3, 15)) == "short"
    assert term(date(2023, 3, 15), date(2024, 3, 16)) == "long"
    assert anniversary(date(2024, 2, 29)) == date(2025, 2, 28)
    assert term(date(2024, 2, 29), date(2025, 2, 28)) == "short"
    assert term(date(2024, 2, 29), date(2025, 3, 1)) == "long"


def test_an_open_lot_without_a_price_has_no_value() -> None:
    lots = fifo([buy(date(2024, 1, 2), "XYZ", "1", "10")], {}, date(2024, 2, 1))
    (lot,) = lots.open
    assert lot.value is None
    assert lot.gain is None
