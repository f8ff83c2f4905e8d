"""The scrubber every Sentry event and log line passes through: nothing secret survives, and
what is needed to understand an error does."""

from __future__ import annotations

import json
from typing import Any

from flint.app.sentry import before_breadcrumb, before_send
from flint.kit.scrub import FILTERED, is_secret_name, scrub, scrub_text

SECRETS = [
    "Tr0ub4dor&3-horse-staple",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
    "rt-4b1d0e55e0f14d2c",
    "session-cookie-value-77",
    "sk_test_51Habc0123456789",
    "whsec_0123456789abcdef",
    "AKIA-PROVIDER-KEY-991",
    "snaptrade-user-secret-6f2",
    "teller-access-token-13",
    "000123456789",  # an account number
    "db-password-42",
    "sandbox-link-code-9",
    "492817",  # a one-time code
]


def realistic_event() -> dict[str, Any]:
    """An event shaped as the SDK's FastAPI and Celery integrations build them."""
    return {
        "event_id": "8f1c0c55b4b94c1b9d6f0f2b7a1e4d11",
        "level": "error",
        "message": "login failed for postgresql://flint:db-password-42@db:5432/flint",
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": "provider said 401 for access_token=teller-access-token-13",
                    "stacktrace": {
                        "frames": [
                            {
                                "function": "link",
                                "vars": {
                                    "auth_code": "sandbox-link-code-9",
                                    "credentials": {"userSecret": "snaptrade-user-secret-6f2"},
                                    "account_number": "000123456789",
                                    "user_id": "2f0b6f8e-0000-4000-8000-000000000001",
                                    "symbol": "AAPL",
                                },
                            },
                            {
                                "function": "sign",
                                "vars": {
                                    "headers": {"X-Api-Key": "AKIA-PROVIDER-KEY-991"},
                                    "self": "<StripeGateway key='sk_test_51Habc0123456789'>",
                                },
                            },
                        ]
                    },
                }
            ]
        },
        "request": {
            "url": "http://testserver/api/v1/auth/login",
            "method": "POST",
            "query_string": "next=%2F&token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
            "headers": {
                "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
                "Cookie": "flint_session=session-cookie-value-77",
                "Stripe-Signature": "t=1,v1=whsec_0123456789abcdef",
                "Accept": "application/json",
            },
            "cookies": {"flint_session": "session-cookie-value-77"},
            "data": {
                "email": "alice@example.com",
                "password": "Tr0ub4dor&3-horse-staple",
                "refreshToken": "rt-4b1d0e55e0f14d2c",
                "code": "492817",
                "totpCode": "492817",
            },
        },
        "breadcrumbs": {
            "values": [
                {
                    "category": "httplib",
                    "data": {
                        "url": "https://api.teller.io/accounts?access_token=teller-access-token-13",
                        "method": "GET",
                    },
                },
                {
                    "category": "log",
                    "message": "POST /v1/customers Authorization: Bearer sk_test_51Habc0123456789",
                },
            ]
        },
        "extra": {"celery-job": {"args": ["db-password-42"], "kwargs": {"api_key": "x" * 12}}},
        "tags": {"process": "api"},
    }


def test_nothing_secret_survives_a_realistic_event() -> None:
    event = realistic_event()
    event["extra"]["celery-job"]["args"] = ["postgresql://u:db-password-42@h/db"]

    scrubbed = before_send(event, {})  # type: ignore[arg-type]

    text = json.dumps(scrubbed)
    assert [secret for secret in SECRETS if secret in text] == []


def test_what_explains_the_error_is_kept() -> None:
    scrubbed = before_send(realistic_event(), {})  # type: ignore[arg-type]

    request = scrubbed["request"]
    frame = scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert request["headers"]["Accept"] == "application/json"
    assert request["headers"]["Authorization"] == FILTERED
    assert request["data"]["password"] == FILTERED
    assert request["query_string"] == f"next=%2F&token={FILTERED}"
    assert frame["vars"]["user_id"] == "2f0b6f8e-0000-4000-8000-000000000001"
    assert frame["vars"]["symbol"] == "AAPL"
    assert frame["function"] == "link"
    assert scrubbed["exception"]["values"][0]["type"] == "RuntimeError"
    assert scrubbed["tags"] == {"process": "api"}


def test_a_breadcrumb_loses_its_secrets() -> None:
    crumb = realistic_event()["breadcrumbs"]["values"][0]

    scrubbed = before_breadcrumb(crumb, {})

    assert scrubbed["data"]["url"] == f"https://api.teller.io/accounts?access_token={FILTERED}"
    assert scrubbed["data"]["method"] == "GET"


def test_header_lists_are_scrubbed_as_mappings() -> None:
    headers = [["authorization", "Bearer abc.def"], ["x-request-id", "r-1"]]

    assert scrub(headers) == [["authorization", FILTERED], ["x-request-id", "r-1"]]


def test_secret_names_match_whatever_their_case_and_separators() -> None:
    telling = ["X-Api-Key", "refreshToken", "new_password", "userSecret", "accountNumber"]
    plain = ["user_id", "symbol", "amount", "email", "request_id", "code"]

    assert [name for name in telling if not is_secret_name(name)] == []
    assert [name for name in plain if is_secret_name(name)] == []


def test_text_keeps_its_shape_and_loses_its_secrets() -> None:
    assert (
        scrub_text("amqp://guest:guest@127.0.0.1:5672//") == f"amqp://{FILTERED}@127.0.0.1:5672//"
    )
    assert scrub_text('{"password": "hunter2", "symbol": "AAPL"}') == (
        f'{{"password": "{FILTERED}", "symbol": "AAPL"}}'
    )
