"""The schemathesis run's list of rules no schema states (`fuzzing.UNSTATABLE`): what it lets
through is only what it names. Each refusal below is one a run met (the seed of a phase run
alone found them), so a change of seed or of operation order does not turn main red."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.contract import fuzzing


@dataclass
class Answer:
    """What `fuzzing._unstatable` reads of a schemathesis response."""

    status_code: int
    content: bytes


def refusal(*errors: tuple[str, str]) -> Answer:
    body = {"errors": [{"field": field, "message": message} for field, message in errors]}
    return Answer(422, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("operation", "errors", "why"),
    [
        (
            "POST /api/v1/portfolio/{portfolioId}/transactions",
            [("body.symbol", "A:0 has no prices yet")],
            "which days a symbol has prices for",
        ),
        (
            "PUT /api/v1/portfolio/{portfolioId}",
            [("body.assets[2].date", "A:0 has no price before 2024-01-05; it cannot be bought")],
            "which days a symbol has prices for",
        ),
        (
            "POST /api/v1/portfolio/",
            [
                ("body.assets[0].date", "3294-07-10 is in the future"),
                ("body.assets[0].symbol", "unknown symbol DH^Z0FO86ZSY7W"),
            ],
            "dates relative to today",
        ),
        (
            "POST /api/portfolio/{portfolioId}/transactions",
            [
                (
                    "body.amount",
                    "the withdrawal of 0.47720 USD on 2024-01-08 overdraws the cash: it is 0.48 "
                    "USD short on 2024-01-08. Record the money coming in first, or set "
                    "allowNegativeCash on the portfolio",
                )
            ],
            "the ledger's rules",
        ),
        (
            "POST /api/v1/portfolio/{portfolioId}/transactions",
            [("body.quantity", "selling 3 AAPL on 2024-01-08 exceeds the 0 held then")],
            "the ledger's rules",
        ),
        (
            "PUT /api/v1/portfolio/{portfolioId}",
            [("body.assets", "selling 3 AAPL on 2024-01-08 exceeds the 0 held then")],
            "the ledger's rules",
        ),
        (
            "POST /api/v1/portfolio/{portfolioId}/import",
            [
                ("line 1", "no 'date' column"),
                ("line 1", "unknown column '\\x10'"),
                ("line 7.quantity", "not a number"),
            ],
            "what a file holds",
        ),
        (  # a multipart upload's file: any bytes are `binary`
            "POST /api/portfolio/import/ghostfolio",
            [("body", "not JSON: Expecting value: line 1 column 1 (char 0)")],
            "what a file holds",
        ),
        (
            "GET /api/v1/market/historical/{symbol}",
            [("query.start", "5m history is limited to 62 days per request, got 1071")],
            "an intraday interval's span",
        ),
        (
            "GET /api/v1/market/historical/{symbol}",
            [("query.start", "at most 30 years before end")],
            "the span from start to end",
        ),
        (
            "PATCH /api/v1/users/me",
            [
                (
                    "body.preferences.notifications.sms",
                    "SMS needs a phone number first: PUT /notifications/preferences with "
                    "phoneNumber.",
                )
            ],
            "whether the account has a phone number",
        ),
    ],
)
def test_a_refusal_by_a_rule_no_schema_states_is_counted_not_failed(
    operation: str, errors: list[tuple[str, str]], why: str
) -> None:
    rule = fuzzing._unstatable(operation, "positive_data_acceptance", refusal(*errors))
    assert rule is not None
    assert rule.why.startswith(why)


PLACES = "has at most 8 decimal places"


@pytest.mark.parametrize(
    ("field", "sent", "counted"),
    [
        ("body.quantity", {"quantity": 1.000000001}, True),
        ("body.assets[1].purchasePrice", {"assets": [{}, {"purchasePrice": 1e-9}]}, True),
        ("body.1.price", [{"price": "1"}, {"price": 1.767486611231248e-214}], True),
        ("body[1].price", [{"price": "1"}, {"price": 1.767486611231248e-214}], True),
        ("body.0.price", [{"price": "1.000000001"}], False),
        # text states its scale (its pattern): refusing one the pattern allows is a finding
        ("body.quantity", {"quantity": "1.000000001"}, False),
        ("body.assets[1].purchasePrice", {"assets": [{"purchasePrice": 1e-9}]}, False),
        ("body.quantity", {}, False),
        ("body.quantity", {"quantity": True}, False),
    ],
)
def test_only_a_json_numbers_scale_is_unstatable(field: str, sent: Any, counted: bool) -> None:
    """A decimal's range is in its schema, and its scale too when it is text; a number's scale
    is the one part no validator of doubles can check."""
    answer = refusal((field, PLACES))
    body = json.dumps(sent).encode()
    rule = fuzzing._unstatable("POST /api/v1/x", "positive_data_acceptance", answer, body)
    assert (rule is not None) is counted
    at_most = refusal((field, "must be at most 1,000,000,000,000"))
    assert fuzzing._unstatable("POST /api/v1/x", "positive_data_acceptance", at_most, body) is None


@pytest.mark.parametrize(
    ("kind", "key", "counted"),
    [
        ("DIVIDEND", "activities", True),
        ("fee", "activities", True),
        ("INTEREST", "orders", True),
        ("BUY", "activities", False),
        ("\u017fell", "activities", False),
    ],
)
def test_only_a_cash_activitys_amount_is_ghostfolio_arithmetic(
    kind: str, key: str, counted: bool
) -> None:
    """A DIVIDEND's, INTEREST's or FEE's amount is quantity x unitPrice (+ fee); a trade's unit
    price above 0 is in the schema, so its refusal is a finding."""
    sent = json.dumps({key: [{"type": "BUY"}, {"type": kind}]}).encode()
    answer = refusal(("activities[1].unitPrice", "must be greater than 0"))
    operation = "POST /api/v1/portfolio/import/ghostfolio"
    rule = fuzzing._unstatable(operation, "positive_data_acceptance", answer, sent)
    assert (rule is not None) is counted


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        # a rule the schema could state (a name's length) fails the run
        ("positive_data_acceptance", refusal(("body.name", "at most 100 characters"))),
        # one stated refusal does not carry an unstated one with it
        (
            "positive_data_acceptance",
            refusal(("body.symbol", "A:0 has no prices yet"), ("body.name", "too long")),
        ),
        # a file's line in a JSON body's field name is not a file's line
        ("positive_data_acceptance", refusal(("body.line 1", "no 'date' column"))),
        # only refusals of valid input are ever counted
        ("not_a_server_error", refusal(("body.symbol", "A:0 has no prices yet"))),
        ("positive_data_acceptance", Answer(500, b"{}")),
    ],
)
def test_anything_else_is_a_finding(check: str, answer: Any) -> None:
    assert fuzzing._unstatable("POST /api/v1/portfolio", check, answer) is None


def test_only_the_ghostfolio_file_may_be_not_json() -> None:
    """A JSON body the server cannot read is FastAPI's own 422, never a rule of the file's."""
    answer = refusal(("body", "not JSON: Expecting value"))
    assert (
        fuzzing._unstatable("POST /api/v1/portfolio/", "positive_data_acceptance", answer) is None
    )
