"""The Ghostfolio file's schema states the reader's rules: a file it allows is imported (but
for the rules no schema can state, `fuzzing.UNSTATABLE`), one it refuses is 422. The document
said little more than "an object with activities", and schemathesis' valid files were refused.

Each case changes one thing of a small valid file, and the schema's verdict and the server's
must agree."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Account
from tests.contract.test_schema_rules import allows, body_schema, spec

__all__ = ["spec"]

URL = "/api/v1/portfolio/import/ghostfolio"


def small_file() -> dict[str, Any]:
    return {
        "meta": {"date": "2024-07-01T08:15:42.318Z", "version": "2.95.0"},
        "accounts": [
            {
                "id": "a1",
                "name": "Cash",
                "currency": "USD",
                "balance": 10,
                "balances": [{"date": "2024-01-02", "value": 100}],
            }
        ],
        "activities": [
            {
                "accountId": "a1",
                "type": "INTEREST",
                "date": "2024-01-03T00:00:00.000Z",
                "quantity": 1,
                "unitPrice": 2.5,
                "fee": 0,
                "currency": "USD",
            }
        ],
    }


Change = Callable[[dict[str, Any]], None]


def activity(**fields: Any) -> Change:
    def change(doc: dict[str, Any]) -> None:
        doc["activities"][0].update(fields)

    return change


def account(**fields: Any) -> Change:
    def change(doc: dict[str, Any]) -> None:
        doc["accounts"][0].update(fields)

    return change


def top(**fields: Any) -> Change:
    def change(doc: dict[str, Any]) -> None:
        doc.update(fields)

    return change


def renamed(old: str, new: str) -> Change:
    def change(doc: dict[str, Any]) -> None:
        doc["activities"][0][new] = doc["activities"][0].pop(old)

    return change


def orders(doc: dict[str, Any]) -> None:
    doc["orders"] = doc.pop("activities")


def profile(data_source: str, price: float) -> Change:
    """A profile no activity trades (read all the same when MANUAL: Ghostfolio's custom asset)."""
    point = {"date": "2024-01-02", "marketPrice": price}
    entry = {"symbol": "X1", "dataSource": data_source, "marketData": [point]}
    return top(assetProfiles=[entry])


CASES: list[tuple[str, Change, bool]] = [
    ("as it is", lambda doc: None, True),
    ("the oldest files' orders", orders, True),
    ("a number as text", activity(quantity="1"), False),
    ("a type in lower case", activity(type="interest"), True),
    ("a type upper-cased only by Unicode", activity(type="\u017fell"), False),
    ("an ISO 8601 date RFC 3339 does not write", activity(date="20240103"), False),
    ("RFC 3339 in lower case", activity(date="2024-01-03t10:00:00z"), True),
    ("a leap second, which JavaScript never writes", activity(date="2024-01-03T23:59:60Z"), False),
    ("a date with a space", activity(date=" 2024-01-03"), False),
    ("the export's date unreadable", top(meta={"date": "yesterday"}), False),
    ("the export's date as a number", top(meta={"date": 20240701}), False),
    ("no export date", top(meta={"date": None}), True),
    ("an account in a currency no portfolio takes", account(currency="XYZ"), False),
    ("an old balance past any amount", account(balance=10**13), False),
    ("a MANUAL price that is 0 at 8 places", profile("MANUAL", 0.000000004), False),
    ("a MANUAL price at the 8th place", profile("MANUAL", 0.00000001), True),
    ("another source's price, never read", profile("YAHOO", 0.000000004), True),
    ("a fee that is -0 at 8 places", activity(fee=-0.000000004), True),
    ("a fee below 0", activity(fee=-0.00000001), False),
    ("a fee past any amount", activity(fee=10**13), False),
    ("a LIABILITY, never read", activity(type="LIABILITY", quantity=10**13, date="x"), True),
    ("a snake_case name", renamed("unitPrice", "unit_price"), False),
    ("a currency a ledger row cannot take", activity(currency="usd"), False),
    ("a symbol where none is needed", activity(dataSource="MANUAL", symbol=None), True),
    ("a listed source needs a symbol", activity(dataSource="YAHOO", symbol=None), False),
]


@pytest.mark.parametrize(("change", "valid"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_the_files_schema_is_the_readers(
    client: httpx.AsyncClient, alice: Account, spec: dict[str, Any], change: Change, valid: bool
) -> None:
    doc = copy.deepcopy(small_file())
    change(doc)
    assert allows(spec, body_schema(spec, "post", "/portfolio/import/ghostfolio"), doc) is valid
    response = await client.post(URL, json=doc, headers=alice.headers)
    assert response.status_code == (201 if valid else 422), response.text
