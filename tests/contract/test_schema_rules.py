"""Rules the server enforces that the documents did not state (what schemathesis found): for
each, the document's schema and the server now agree on a value either side of the rule.
Each value here was one the schema allowed and the server refused, or the other way round."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.conftest import Account, served_document

V1 = "/api/v1"


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    return await served_document(client)


def allows(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    """Whether `schema` (of `spec`, its references resolved there) allows `value`."""
    resolver = {**schema, "components": spec["components"]}
    checker = Draft202012Validator.FORMAT_CHECKER
    return Draft202012Validator(resolver, format_checker=checker).is_valid(value)


def body_schema(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    content = spec["paths"][f"{V1}{path}"][method]["requestBody"]["content"]
    schema: dict[str, Any] = next(iter(content.values()))["schema"]
    return schema


def parameter_schema(spec: dict[str, Any], method: str, path: str, name: str) -> dict[str, Any]:
    for parameter in spec["paths"][f"{V1}{path}"][method]["parameters"]:
        if parameter["name"] == name:
            schema: dict[str, Any] = parameter["schema"]
            return schema
    raise AssertionError(name)


def refused_at(response: httpx.Response, field: str) -> bool:
    if response.status_code != 422:
        return False
    return field in {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize(
    ("password", "valid"),
    [("short-pw1", False), ("a-long-enough-pw", True), ("x7-" * 43, False)],
)
async def test_a_new_passwords_length_is_in_the_schema(
    client: httpx.AsyncClient, spec: dict[str, Any], password: str, valid: bool
) -> None:
    """The schema said 1-1,024 characters; the server takes 10-128."""
    body = {"email": "new@example.com", "password": password}
    assert allows(spec, body_schema(spec, "post", "/auth/register"), body) is valid
    response = await client.post(f"{V1}/auth/register", json=body)
    assert refused_at(response, "body.password") is not valid, response.text
    reset = {"token": "t", "newPassword": password}
    assert allows(spec, body_schema(spec, "post", "/auth/reset-password/confirm"), reset) is valid


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("new@example.com", True),
        ("new@b.test.com", True),
        ("new@testing.com", True),
        ("new@b.test", False),
        ("new@HOME.LOCAL", False),
        ("new@x.onion", False),
        ("new@in-addr.arpa", False),
        ("new@b.Invalid", False),
    ],
)
async def test_a_reserved_domain_is_refused_in_the_schema_too(
    client: httpx.AsyncClient, spec: dict[str, Any], email: str, valid: bool
) -> None:
    """`make fuzz` signed up at `.test`, `.local` and the like (special-use names no mail
    reaches): the address check refuses them, and `format: email` allowed them."""
    body = {"email": email, "password": "a-long-enough-pw"}
    assert allows(spec, body_schema(spec, "post", "/auth/register"), body) is valid
    response = await client.post(f"{V1}/auth/register", json=body)
    assert refused_at(response, "body.email") is not valid, response.text


@pytest.mark.parametrize(
    ("start", "valid"), [("0", False), ("1700000000", False), ("2024-01-05", True)]
)
async def test_a_date_parameter_is_a_date(
    client: httpx.AsyncClient, alice: Account, spec: dict[str, Any], start: str, valid: bool
) -> None:
    """`start=0` was read as Unix time: 1970-01-01."""
    path = "/portfolio/{portfolioId}/performance"
    assert allows(spec, parameter_schema(spec, "get", path, "start"), start) is valid
    portfolio = await client.post(f"{V1}/portfolio/", json={"name": "P"}, headers=alice.headers)
    pid = portfolio.json()["portfolioId"]
    response = await client.get(
        f"{V1}/portfolio/{pid}/performance", params={"start": start}, headers=alice.headers
    )
    assert refused_at(response, "query.start") is not valid, response.text


@pytest.mark.parametrize(
    ("asset", "valid"),
    [("aapl", True), (" BRK.B ", True), ("MY:HOUSE", False), ("\ufb00", False), ("A B", False)],
)
async def test_a_symbols_pattern_is_in_the_schema(
    client: httpx.AsyncClient, alice: Account, spec: dict[str, Any], asset: str, valid: bool
) -> None:
    """The schema said any 1-15 characters; "ﬀ" (upper-cased "FF") was taken as a symbol."""
    body = {"userId": alice.user_id, "asset": asset}
    assert allows(spec, body_schema(spec, "post", "/watchlist/add"), body) is valid
    response = await client.post(f"{V1}/watchlist/add", json=body, headers=alice.headers)
    assert refused_at(response, "body.asset") is not valid, response.text


@pytest.mark.parametrize(
    ("name", "valid"),
    [("\f", False), (" \t\u3000", False), ("  Villa ", True), ("\u00e9t\u00e9", True)],
)
async def test_a_text_of_whitespace_alone_is_refused_by_the_schema_too(
    client: httpx.AsyncClient, alice: Account, spec: dict[str, Any], name: str, valid: bool
) -> None:
    """Request texts are stripped before their length is checked: the schema said minLength 1,
    so "\\f" was valid there and refused by the server (make fuzz found it)."""
    body = {"name": name}
    assert allows(spec, body_schema(spec, "post", "/portfolio/"), body) is valid
    response = await client.post(f"{V1}/portfolio/", json=body, headers=alice.headers)
    assert refused_at(response, "body.name") is not valid, response.text


@pytest.mark.parametrize(
    ("name", "valid"),
    [("V" + "\u00a0" * 199, True), ("V" + "\u00a0" * 200, False), (" " * 150 + "V" * 51, False)],
)
async def test_a_texts_length_counts_the_whitespace_it_is_stripped_of(
    client: httpx.AsyncClient, alice: Account, spec: dict[str, Any], name: str, valid: bool
) -> None:
    """The schema's maxLength counts every character sent; the server counted what was left
    after stripping, so 200 no-break spaces after a letter were taken as a name of one letter
    (make fuzz sent an email of that shape to the password reset)."""
    body = {"name": name}
    assert allows(spec, body_schema(spec, "post", "/portfolio/"), body) is valid
    response = await client.post(f"{V1}/portfolio/", json=body, headers=alice.headers)
    assert refused_at(response, "body.name") is not valid, response.text
    reset = {"email": "ada@example.com" + " " * 320}
    assert not allows(spec, body_schema(spec, "post", "/auth/reset-password"), reset)
    response = await client.post(f"{V1}/auth/reset-password", json=reset)
    assert refused_at(response, "body.email"), response.text


@pytest.mark.parametrize(("currency", "valid"), [("LSQ", False), ("SEK", False), ("EUR", True)])
async def test_the_base_currencies_are_listed(
    client: httpx.AsyncClient, alice: Account, spec: dict[str, Any], currency: str, valid: bool
) -> None:
    """The schema said any three capitals; only those the market converts dollars into are
    taken (make fuzz sent "LSQ")."""
    body = {"name": "Abroad", "baseCurrency": currency}
    assert allows(spec, body_schema(spec, "post", "/portfolio/"), body) is valid
    response = await client.post(f"{V1}/portfolio/", json=body, headers=alice.headers)
    assert refused_at(response, "body.baseCurrency") is not valid, response.text


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"placed": True}, False),
        ({"placed": True, "providerOrderId": "ord-1"}, True),
        ({"placed": False, "providerOrderId": "ord-1"}, False),
        ({"placed": False}, True),
    ],
)
async def test_settling_a_trade_says_when_the_order_id_goes(
    spec: dict[str, Any], body: dict[str, Any], valid: bool
) -> None:
    """The server wants providerOrderId exactly with placed: true; the schema said either was
    optional (the server's refusals are in tests/trades/test_trades_snaptrade.py)."""
    assert allows(spec, body_schema(spec, "post", "/trades/{tradeId}/resolve"), body) is valid


@pytest.mark.parametrize(
    ("text", "valid"), [("Villa\x00", False), ("\x00", False), ("Villa", True)]
)
async def test_the_nul_character_is_refused_in_text(
    client: httpx.AsyncClient, alice: Account, spec: dict[str, Any], text: str, valid: bool
) -> None:
    """PostgreSQL cannot store it: a custom asset named with it was a 500 there (schemathesis
    found it); now the schema excludes it and the server answers 422."""
    body = {"symbol": "MY:VILLA", "name": text}
    assert allows(spec, body_schema(spec, "post", "/assets"), body) is valid
    response = await client.post(f"{V1}/assets", json=body, headers=alice.headers)
    assert refused_at(response, "body.name") is not valid, response.text
    assert response.status_code == (201 if valid else 422), response.text


@pytest.mark.parametrize(
    ("order", "valid"),
    [
        ({}, True),
        ({"limitPrice": "180"}, False),
        ({"orderType": "market", "stopPrice": "170"}, False),
        ({"orderType": "limit"}, False),
        ({"orderType": "limit", "limitPrice": "180"}, True),
        ({"orderType": "stop", "stopPrice": "170"}, True),
        ({"orderType": "stop_limit", "stopPrice": "170"}, False),
        ({"orderType": "stop_limit", "stopPrice": "170", "limitPrice": "171"}, True),
    ],
)
async def test_which_prices_each_order_type_takes_is_in_the_schema(
    client: httpx.AsyncClient,
    alice: Account,
    spec: dict[str, Any],
    order: dict[str, Any],
    valid: bool,
) -> None:
    """The schema let a market order carry a limit price, which the server refuses."""
    body = {"accountId": str(uuid.uuid4()), "asset": "AAPL", "action": "buy", "quantity": "1"}
    body |= order
    assert allows(spec, body_schema(spec, "post", "/trades/execute"), body) is valid
    response = await client.post(f"{V1}/trades/execute", json=body, headers=alice.headers)
    # A valid order for an account that is not there is 404; an invalid one 422 on the body.
    assert response.status_code == (404 if valid else 422), response.text


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"phoneNumber": "+1 (415) 555-2671"}, True),
        (
            {"phoneNumber": "+14155552671", "channels": {"trade": {"email": True, "sms": True}}},
            True,
        ),
        ({"phoneNumber": "+1\u0664\u0661\u0665"}, False),  # Arabic-Indic digits
        ({"phoneNumber": "0014155552671"}, False),
        ({"phoneNumber": "+0415"}, False),
        ({"channels": {"trade": {"email": True, "sms": True}}}, False),
        ({"channels": {"trade": {"email": False, "sms": False}}}, True),
    ],
)
async def test_the_phone_number_and_when_sms_needs_it_are_in_the_schema(
    client: httpx.AsyncClient,
    alice: Account,
    spec: dict[str, Any],
    body: dict[str, Any],
    valid: bool,
) -> None:
    """The schema said any 2-32 characters, and nothing of SMS needing a number; the server
    also took other scripts' digits (Arabic-Indic ones), which no carrier reads."""
    assert allows(spec, body_schema(spec, "put", "/notifications/preferences"), body) is valid
    path = f"{V1}/notifications/preferences"
    response = await client.put(path, json=body, headers=alice.headers)
    assert response.status_code == (200 if valid else 422), response.text


@pytest.mark.parametrize(
    ("quantity", "valid"),
    [
        ("1_000", False),
        ("\uff11\uff12", False),
        (" 12 ", True),
        ("+.5", True),
        # No exponent: an exponent past Decimal's range was "not a valid decimal" to the server
        # while the documents allowed it (the long schema fuzz), and a range with exponents is
        # no pattern the documents could state (tests/contract/test_decimal_ranges.py).
        ("1e3", False),
        ("0.5e-0002", False),
        ("+.49302E236943608777556492307658888", False),
        ("1e12345", False),
        # The range and scale, in the schema as on the server.
        ("1000000000000", True),
        ("1000000000000.00000001", False),
        ("0.00000001", True),
        ("0.000000010000", True),
        ("0.000000001", False),
        ("-1", False),
        ("0", False),
    ],
)
async def test_decimal_text_has_one_grammar_in_the_schema_too(
    client: httpx.AsyncClient, alice: Account, spec: dict[str, Any], quantity: str, valid: bool
) -> None:
    body = {
        "date": "2024-01-02",
        "type": "buy",
        "symbol": "AAPL",
        "quantity": quantity,
        "price": "1",
    }
    assert (
        allows(spec, body_schema(spec, "post", "/portfolio/{portfolioId}/transactions"), body)
        is valid
    )
    portfolio = await client.post(f"{V1}/portfolio/", json={"name": "P"}, headers=alice.headers)
    pid = portfolio.json()["portfolioId"]
    response = await client.post(
        f"{V1}/portfolio/{pid}/transactions", json=body, headers=alice.headers
    )
    assert refused_at(response, "body.quantity") is not valid, response.text


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"type": "buy", "symbol": "AAPL", "quantity": "1", "price": "1"}, True),
        ({"type": "buy", "symbol": "AAPL", "quantity": None, "price": "1"}, False),
        ({"type": "deposit"}, False),
        ({"type": "deposit", "amount": "5"}, True),
    ],
)
async def test_what_each_transaction_type_needs_is_in_the_schema(
    spec: dict[str, Any], body: dict[str, Any], valid: bool
) -> None:
    body = {"date": "2024-01-02", **body}
    schema = body_schema(spec, "post", "/portfolio/{portfolioId}/transactions")
    assert allows(spec, schema, body) is valid


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"code": "123 456"}, True),
        ({"recoveryCode": "k7mxq-p2dwa"}, True),
        ({"code": "123456", "recoveryCode": "k7mxq-p2dwa"}, False),
        ({}, False),
        ({"code": "</head>"}, False),
    ],
)
async def test_two_factor_codes_are_stated(
    spec: dict[str, Any], body: dict[str, Any], valid: bool
) -> None:
    """The codes' patterns never reached the document, nor did "either code or recoveryCode"."""
    body = {"mfaToken": "m", **body}
    assert allows(spec, body_schema(spec, "post", "/auth/2fa/verify"), body) is valid


async def test_the_idempotency_key_length_is_stated(spec: dict[str, Any]) -> None:
    schema = parameter_schema(spec, "post", "/trades/execute", "Idempotency-Key")
    assert not allows(spec, schema, "")
    assert not allows(spec, schema, "k" * 256)
    assert allows(spec, schema, "k" * 255)


@pytest.mark.parametrize(
    ("path", "provider", "valid"),
    [
        ("/accounts/link", "sandbox", True),
        ("/accounts/link", "simulated", False),
        ("/accounts/connect", "snaptrade", True),
        ("/accounts/connect", "sandbox", False),
    ],
)
async def test_the_providers_are_named(
    spec: dict[str, Any], path: str, provider: str, valid: bool
) -> None:
    body = (
        {"provider": provider, "authCode": "x"} if path.endswith("link") else {"provider": provider}
    )
    assert allows(spec, body_schema(spec, "post", path), body) is valid


@pytest.mark.parametrize(
    ("security", "valid"),
    [({"email": True, "sms": False}, True), ({"email": False, "sms": False}, False), ("x", False)],
)
async def test_security_notices_cannot_be_changed_says_the_schema(
    spec: dict[str, Any], security: Any, valid: bool
) -> None:
    body = {"channels": {"security": security}}
    assert allows(spec, body_schema(spec, "put", "/notifications/preferences"), body) is valid


@pytest.mark.parametrize("document", ["/openapi.json", "/api/openapi.json"])
async def test_the_token_form_states_what_the_server_reads(
    client: httpx.AsyncClient, document: str
) -> None:
    """An empty field is a missing one; `grant_type` is `password`, not `password\\n`."""
    spec = (await client.get(document)).json()
    schema = {"$ref": "#/components/schemas/Body_auth-token"}
    assert not allows(spec, schema, {"username": "", "password": "p"})
    assert not allows(spec, schema, {"username": "u", "password": "p", "grant_type": "password\n"})
    assert allows(spec, schema, {"username": "u", "password": "p", "grant_type": "password"})
