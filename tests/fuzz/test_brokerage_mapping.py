"""SnapTrade's and Teller's answers, arbitrary or mutated from the spec's examples (the stub
samples), through the adapters' mapping to Flint's accounts, balances, holdings, activities and
orders: each gives finite Decimals or `ProviderGarbage`, never KeyError, TypeError, Overflow
or a number too large to store."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from flint.brokerage.snaptrade import mapping as snaptrade
from flint.brokerage.teller import mapping as teller
from flint.kit.schema import DECIMAL_TEXT
from flint.kit.vendor_errors import ProviderGarbage
from tests.fuzz.support import fuzz, json_values, mutated_json, numberish

SAMPLES = Path(__file__).parent.parent / "stubs" / "samples"
STORABLE = Decimal("1e20")
"""Prices and amounts are stored as NUMERIC(38, 18): fewer than 20 integer digits."""


def wire(value: Any) -> Any:
    """``value`` as the adapters' clients read it: JSON text, decimals as Decimal."""
    return json.loads(json.dumps(value), parse_float=Decimal, parse_constant=Decimal)


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text("utf-8"))


def numbers_of(result: object) -> list[Decimal]:
    found: list[Decimal] = []
    items = result if isinstance(result, list) else [result]
    for item in items:
        values = (
            [getattr(item, f.name) for f in dataclasses.fields(item)]
            if dataclasses.is_dataclass(item)
            else [item]
        )
        found += [value for value in values if isinstance(value, Decimal)]
    return found


def mapped(call: Callable[[], object]) -> None:
    """``call``: finite, storable numbers or ProviderGarbage."""
    try:
        result = call()
    except ProviderGarbage:
        return
    for number in numbers_of(result):
        assert number.is_finite(), number
        assert number.copy_abs() < STORABLE, number


def strict(read: Callable[[Any], object], text: str) -> None:
    """A vendor's decimal string is read only when it is in the requests' grammar."""
    try:
        read(text)
    except ProviderGarbage:
        return
    assert DECIMAL_TEXT.fullmatch(text.strip()), text


@fuzz(200)
@given(text=numberish)
def test_a_vendors_decimal_string_is_in_the_grammar_or_garbage(text: str) -> None:
    strict(lambda t: snaptrade.opt_dec(t, "a number"), text)
    strict(lambda t: teller.balances({"ledger": t}, {"type": "credit", "currency": "USD"}), text)


# --- SnapTrade --------------------------------------------------------------------------------


def snaptrade_account(body: Any) -> object:
    return [snaptrade.account(raw, True) for raw in snaptrade.objects(body, "accounts")]


def snaptrade_balances(body: Any) -> object:
    rows = snaptrade.objects(body, "the balances")
    row = snaptrade.balance_row(rows, "USD")
    if row is None:
        return None
    return [snaptrade.opt_dec(row.get(key), key) for key in ("cash", "buying_power")]


def snaptrade_positions(body: Any) -> object:
    results = snaptrade.objects(body.get("results") if isinstance(body, dict) else body, "p")
    return [snaptrade.position(raw) for raw in results]


def snaptrade_activities(body: Any) -> object:
    return [snaptrade.transaction(raw) for raw in snaptrade.objects(body, "the activities")]


def snaptrade_orders(body: Any) -> object:
    return [snaptrade.order(raw, None) for raw in snaptrade.objects(body, "the orders")]


def snaptrade_totals(body: Any) -> object:
    return [snaptrade.account_total(raw)[1] for raw in snaptrade.objects(body, "accounts")]


ACTIVITY = {
    "id": "2f4a",
    "trade_date": "2024-03-01T00:00:00Z",
    "type": "BUY",
    "units": "10",
    "price": "185.5",
    "amount": None,
    "currency": {"code": "USD"},
    "symbol": {"symbol": "AAPL"},
    "description": "Bought",
}
SNAPTRADE: dict[str, tuple[Callable[[Any], object], Any]] = {
    "accounts": (snaptrade_account, sample("snaptrade_accounts.json")),
    "totals": (snaptrade_totals, sample("snaptrade_accounts.json")),
    "balances": (snaptrade_balances, sample("snaptrade_balances.json")),
    "positions": (snaptrade_positions, sample("snaptrade_positions_all.json")),
    "activities": (snaptrade_activities, [ACTIVITY]),
    "orders": (snaptrade_orders, sample("snaptrade_orders.json")),
}


@fuzz(150)
@given(what=st.sampled_from(list(SNAPTRADE)), value=json_values)
def test_snaptrade_over_arbitrary_json(what: str, value: Any) -> None:
    read = SNAPTRADE[what][0]
    mapped(lambda: read(wire(value)))
    mapped(lambda: read(wire([value])))


@fuzz(300)
@given(what=st.sampled_from(list(SNAPTRADE)), data=st.data())
def test_snaptrade_over_mutated_answers(what: str, data: st.DataObject) -> None:
    read, recorded = SNAPTRADE[what]
    mapped(lambda: read(wire(recorded)))
    mutated = wire(data.draw(mutated_json(recorded, 4)))
    mapped(lambda: read(mutated))


# --- Teller -----------------------------------------------------------------------------------


def teller_accounts(body: Any) -> object:
    return teller.accounts(teller.objects(body, "accounts"))


def teller_balances(body: Any) -> object:
    return teller.balances(body, {"type": "depository", "currency": "USD"})


def teller_credit_balances(body: Any) -> object:
    return teller.balances(body, {"type": "credit", "currency": "USD"})


def teller_transactions(body: Any) -> object:
    return [teller.transaction(raw, True, "USD") for raw in teller.objects(body, "page")]


def teller_facts(body: Any) -> object:
    return [teller.account_facts(raw) for raw in teller.objects(body, "accounts")]


TELLER: dict[str, tuple[Callable[[Any], object], Any]] = {
    "accounts": (teller_accounts, sample("teller_accounts.json")),
    "facts": (teller_facts, sample("teller_accounts.json")),
    "balances": (teller_balances, sample("teller_balances.json")),
    "credit": (teller_credit_balances, sample("teller_balances.json")),
    "transactions": (teller_transactions, sample("teller_transactions.json")),
}


@fuzz(150)
@given(what=st.sampled_from(list(TELLER)), value=json_values)
def test_teller_over_arbitrary_json(what: str, value: Any) -> None:
    read = TELLER[what][0]
    mapped(lambda: read(json.loads(json.dumps(value))))
    mapped(lambda: read(json.loads(json.dumps([value]))))


@fuzz(300)
@given(what=st.sampled_from(list(TELLER)), data=st.data())
def test_teller_over_mutated_answers(what: str, data: st.DataObject) -> None:
    read, recorded = TELLER[what]
    mapped(lambda: read(recorded))
    mutated = json.loads(json.dumps(data.draw(mutated_json(recorded, 4))))
    mapped(lambda: read(mutated))
