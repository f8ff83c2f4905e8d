"""The check that a 422 names only fields the request has (tests/contract/error_fields.py),
against the operations of Flint's own document: it must tell a real field from one that is not."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from flint.app.main import create_app
from tests.contract.error_fields import names_the_request

CASES = [
    ("POST", "/api/v1/portfolio/", "body.assets[2].purchaseDate", True),
    ("POST", "/api/v1/portfolio/", "body.assets[2].date", False),
    ("POST", "/api/v1/portfolio/", "body.name", True),
    ("POST", "/api/v1/portfolio/", "body", True),
    ("POST", "/api/v1/portfolio/", "body.portfolioName", False),
    ("GET", "/api/v1/portfolio/{portfolioId}/performance", "query.start", True),
    ("GET", "/api/v1/portfolio/{portfolioId}/performance", "query.from", False),
    ("GET", "/api/v1/portfolio/{portfolioId}/performance", "path.portfolioId", True),
    ("POST", "/api/v1/trades/execute", "header.idempotency-key", True),
    ("POST", "/api/v1/trades/execute", "body.limitPrice", True),
    ("POST", "/api/v1/trades/execute", "body.limit_price", False),
    ("POST", "/api/v1/portfolio/import/ghostfolio", "activities[3].unitPrice", True),
    ("POST", "/api/v1/portfolio/import/ghostfolio", "activities[3].price", False),
    ("POST", "/api/v1/portfolio/import/ghostfolio", "accounts[0].balances[1].date", True),
    ("POST", "/api/v1/portfolio/{portfolioId}/import", "line 7.date", True),
]


@pytest.fixture(scope="module")
def schema() -> Any:
    return schemathesis.openapi.from_dict(create_app().openapi())


@pytest.mark.parametrize(("method", "path", "name", "expected"), CASES)
def test_a_name_is_told_from_the_request(
    schema: Any, method: str, path: str, name: str, expected: bool
) -> None:
    assert names_the_request(schema[path][method], name) is expected


def test_a_field_the_client_sent_is_named_by_its_own_name(schema: Any) -> None:
    """A field no schema has, refused as "Extra inputs are not permitted", is the request's."""
    login = schema["/api/v1/auth/login"]["POST"]
    assert names_the_request(login, "body.nickname", {"email": "a@b.c", "nickname": 1})
    assert names_the_request(login, "body.6", {"6": None})
    assert not names_the_request(login, "body.nickname", {"email": "a@b.c"})
    assert names_the_request(login, "body.K.x[1].y", {"K.x": [0, {"y": 1}]})
    assert not names_the_request(login, "body.K.x[2].y", {"K.x": [0, {"y": 1}]})
