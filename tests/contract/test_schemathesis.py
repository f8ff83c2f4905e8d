"""Schemathesis over every operation of both OpenAPI documents Flint serves (`/openapi.json`,
the `/api/v1` operations and the probes; `/api/openapi.json`, the unversioned aliases), signed
in as a user with a row of every kind, on SQLite and PostgreSQL (the aliases on SQLite: they
are the versioned operations' handlers), with every phase (the aliases without the coverage
phase, but under `make fuzz`: see below) and every check: no server error, no
answer outside its own schema, no invalid input accepted, no valid input refused, 405s with
their `Allow`, every field a 422 names one the request has (tests/contract/error_fields.py),
and the stateful links followed.

Left out: nothing. The webhooks are fuzzed too (they refuse what carries no valid signature,
as their documents say); the quote stream is a WebSocket, which OpenAPI cannot describe, so no
document has it (tests/market covers it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from schemathesis.python import asgi
from starlette.applications import Starlette

from flint.app.main import create_app
from flint.config import Settings
from tests.contract import fuzzing
from tests.contract.seed import Seeded, seed
from tests.stubs import snaptrade as snaptrade_stub
from tests.stubs import stripe_api as stripe_stub
from tests.stubs.server import RunningStub, run_stub

pytestmark = pytest.mark.timeout(0 if fuzzing.LONG else 600)


@pytest.fixture(scope="module")
def stripe() -> Iterator[RunningStub]:
    with run_stub(stripe_stub.create_app()) as running:
        yield running


@pytest.fixture(scope="module")
def snaptrade() -> Iterator[RunningStub]:
    app: Starlette = snaptrade_stub.create_app()
    with run_stub(app) as running:
        yield running


@pytest.fixture
def settings_overrides(stripe: RunningStub, snaptrade: RunningStub) -> dict[str, Any]:
    """Every vendor Flint can have configured (billing and SnapTrade on their local stubs), and
    no rate limits: the run sends thousands of requests as one user (the limits have their own
    tests in tests/app)."""
    stripe.control.reset()
    snaptrade.control.reset()
    return {
        "rate_limits_enabled": False,
        "trade_wait_seconds": 0.2,
        "stripe_secret_key": stripe_stub.SECRET_KEY,
        "stripe_webhook_secret": stripe_stub.WEBHOOK_SECRET,
        "stripe_premium_price_id": stripe_stub.PRICE_ID,
        "stripe_api_base": stripe.url,
        "snaptrade_client_id": snaptrade_stub.CLIENT_ID,
        "snaptrade_consumer_key": snaptrade_stub.CONSUMER_KEY,
        "snaptrade_base_url": snaptrade.url,
        "vendor_retry_attempts": 1,
    }


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[FastAPI, Seeded]]:
    """The app, started by schemathesis' ASGI client (its lifespan and every request on that
    client's event loop), with the seeded user; stopped at the end."""
    app = create_app(settings)
    try:
        with asgi.get_client(app) as client:
            seeded = seed(client)
        yield app, seeded
    finally:
        asgi.shutdown_lifespans()


def test_schemathesis_finds_nothing(served: tuple[FastAPI, Seeded]) -> None:
    """The versioned document, on both databases."""
    _finds_nothing(served, "/openapi.json", "/api/v1")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_schemathesis_finds_nothing_in_the_unversioned_aliases(
    served: tuple[FastAPI, Seeded],
) -> None:
    """The aliases' document, on SQLite: they are the versioned operations' own handlers, so
    what the database changes is the versioned run's to find (a run took 40-55 s). Without the
    coverage phase outside `make fuzz`: its cases (every parameter's bounds and wrong types,
    80 % of a run's 4,600 requests, 14 of its 30 s of CPU) are made from the document alone,
    and this document is the versioned one at other paths (tests/docs/test_alias_document.py),
    so they are the versioned run's cases, sent to the same handlers; the other phases send their
    examples, random cases and links to every alias, every alias path's methods and 405s are
    walked in tests/app/test_http.py, and each versioned operation answers the same under /api
    (tests/test_errors.py)."""
    _finds_nothing(served, "/api/openapi.json", "/api", coverage=bool(fuzzing.LONG))


def _finds_nothing(
    served: tuple[FastAPI, Seeded], document: str, prefix: str, *, coverage: bool = True
) -> None:
    app, seeded = served
    report = fuzzing.run(app, document, seeded, prefix, coverage=coverage)
    print(report.summary())
    if report.errors or report.findings:
        pytest.fail(report.details(), pytrace=False)
    assert len(report.expected) > 70
    assert report.operations == report.expected
