"""What a followed account's activities map to in the ledger, and the gaps between them and its
holdings (`flint.portfolio.mirror`, pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from flint.brokerage.types import Transaction
from flint.market.universe import load_universe
from flint.portfolio import following, mirror

D1, D2, D3 = date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)


def activity(ident: str, kind: str | None, amount: str, **fields: Any) -> Transaction:
    return Transaction(ident, D1, Decimal(amount), str(kind), type=kind, **fields)


def known(symbol: str) -> str | None:
    return symbol if symbol in {"AAPL", "VTI"} else None


def test_each_kind_of_activity_maps_to_its_ledger_row_and_the_rest_is_counted() -> None:
    trade = {"symbol": "AAPL", "quantity": Decimal(2), "price": Decimal("150.5")}
    result = mirror.mirror(
        [
            activity("b", "buy", "-301", **trade),
            activity("s", "sell", "301", **trade),
            activity("r", "reinvestment", "-301", **trade),
            activity("d", "dividend", "4.2", symbol="AAPL"),
            activity("dx", "dividend", "1.5", symbol="NOSUCH"),
            activity("i", "interest", "0.7"),
            activity("f", "fee", "-3"),
            activity("t", "tax", "-1.1"),
            activity("in", "deposit", "1000"),
            activity("out", "withdrawal", "-200"),
            activity("tin", "transfer", "50"),
            activity("tout", "transfer", "-20"),
            activity("sec", "transfer", "0", symbol="AAPL", quantity=Decimal(3)),
            activity("card", "card_payment", "-12"),
            activity("none", None, "-1"),
            activity("pend", "deposit", "10", status="pending"),
            activity("zero", "deposit", "0"),
            activity("nounits", "buy", "-5", symbol="AAPL", price=Decimal(5)),
            activity(
                "unknown", "buy", "-5", symbol="NOSUCH", quantity=Decimal(1), price=Decimal(5)
            ),
        ],
        known,
    )
    assert [(r.key, r.type, r.symbol, r.quantity, r.price, r.amount) for r in result.rows] == [
        ("/b", "buy", "AAPL", Decimal(2), Decimal("150.5"), None),
        ("/s", "sell", "AAPL", Decimal(2), Decimal("150.5"), None),
        ("/r", "buy", "AAPL", Decimal(2), Decimal("150.5"), None),
        ("/d", "dividend", "AAPL", None, None, Decimal("4.2")),
        ("/dx", "dividend", None, None, None, Decimal("1.5")),
        ("/i", "interest", None, None, None, Decimal("0.7")),
        ("/f", "fee", None, None, None, Decimal(3)),
        ("/t", "tax", None, None, None, Decimal("1.1")),
        ("/in", "deposit", None, None, None, Decimal(1000)),
        ("/out", "withdrawal", None, None, None, Decimal(200)),
        ("/tin", "deposit", None, None, None, Decimal(50)),
        ("/tout", "withdrawal", None, None, None, Decimal(20)),
    ]
    assert result.skipped == {
        "transfer: incomplete": 1,
        "card_payment: not an investment activity": 1,
        "untyped: not an investment activity": 1,
        "pending: not mirrored until it posts": 1,
        "deposit: incomplete": 1,
        "buy: incomplete": 1,
        "unknown symbol NOSUCH": 1,
    }


def row(key: str, day: date, kind: str, quantity: str, symbol: str = "AAPL") -> mirror.Row:
    return mirror.Row(key, day, kind, symbol, quantity=Decimal(quantity), price=Decimal(10))


@pytest.mark.parametrize(
    ("rows", "held", "expected"),
    [
        # The history explains the holding: nothing to add.
        ([row("/a", D1, "buy", "5"), row("/b", D2, "sell", "2")], {"AAPL": "3"}, []),
        # Bought before the window: the missing units open the ledger.
        ([row("/a", D2, "buy", "5")], {"AAPL": "8"}, [("AAPL", "3", "0")]),
        # A sale of units bought before the window: opened so it never goes below zero.
        (
            [row("/s", D1, "sell", "4"), row("/b", D2, "buy", "4")],
            {"AAPL": "4"},
            [("AAPL", "4", "0")],
        ),
        # Transferred out: closed at the end.
        ([row("/a", D1, "buy", "5")], {}, [("AAPL", "0", "5")]),
        # Both: a sale from before the window, and fewer held now than the ledger would have.
        (
            [row("/s", D1, "sell", "4"), row("/b", D2, "buy", "6")],
            {"AAPL": "1"},
            [("AAPL", "4", "5")],
        ),
        # Transferred in, never traded; and a buy and a sale on one day replay buy first.
        (
            [row("/z", D3, "sell", "2", "VTI"), row("/y", D3, "buy", "2", "VTI")],
            {"AAPL": "2.5"},
            [("AAPL", "2.5", "0")],
        ),
    ],
)
def test_gaps_open_and_close_what_the_history_does_not_explain(
    rows: list[mirror.Row], held: dict[str, str], expected: list[tuple[str, str, str]]
) -> None:
    gaps = mirror.gaps(rows, {symbol: Decimal(units) for symbol, units in held.items()})
    assert [(g.symbol, g.opening, g.closing) for g in gaps] == [
        (symbol, Decimal(opening), Decimal(closing)) for symbol, opening, closing in expected
    ]


def test_mirrored_rows_are_numbered_below_zero_within_their_day_in_a_stable_order() -> None:
    rows = [
        mirror.Row("/w", D1, "withdrawal", amount=Decimal(1)),
        row("/s", D1, "sell", "1"),
        row("#opening:AAPL", D1, "buy", "1"),
        mirror.Row("/d", D1, "deposit", amount=Decimal(1)),
        row("/b2", D1, "buy", "1"),
        row("/b1", D1, "buy", "1"),
        row("/c", D2, "buy", "1"),
    ]
    assert mirror.sequence(rows) == {
        "#opening:AAPL": -6,
        "/d": -5,
        "/b1": -4,
        "/b2": -3,
        "/s": -2,
        "/w": -1,
        "/c": -1,
    }


def test_a_brokers_symbol_is_mirrored_under_the_markets_name() -> None:
    """A broker writing Berkshire as ``BRK.B`` (the market's ``BRK-B``) mirrored a second
    position beside the hand-entered one; an unknown or malformed symbol is not mirrored."""
    known_to_market = following.known_as(load_universe())
    result = mirror.mirror(
        [activity("b", "buy", "-1000", symbol="brk.b", quantity=Decimal(2), price=Decimal(500))],
        known_to_market,
    )

    assert [(r.symbol, r.quantity) for r in result.rows] == [("BRK-B", Decimal(2))]
    assert [known_to_market(s) for s in ("BRK-B", "AAPL", "NOSUCH", "A$B")] == [
        "BRK-B",
        "AAPL",
        None,
        None,
    ]
