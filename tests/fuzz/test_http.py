"""Fuzzed bodies through the app: imports by every preset, and the vendors' webhooks. Each
answer is a success or a 4xx problem+json, never a 5xx; a refused import leaves the ledger
as it was, and a refused webhook stores nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flint.accounts.webhook_models import SnapTradeWebhook
from flint.billing.models import BillingEvent
from flint.portfolio import imports
from tests.conftest import Account
from tests.fuzz.support import LONG, examples, json_bytes, json_values, mutated_text
from tests.fuzz.test_import_parsers import FLINT_CSV, SAMPLE_FILES, sample_texts
from tests.portfolio.test_import_export import new_portfolio
from tests.stubs import stripe_api as stripe_stub
from tests.stubs.snaptrade.common import CLIENT_ID, CONSUMER_KEY

V1 = "/api/v1"
HTTP_EXAMPLES = min(LONG, 500) or 25
"""Bodies per test: few, as each is a request (and the tests run on SQLite and PostgreSQL)."""


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """SnapTrade and Stripe configured (never called: a refused webhook goes nowhere); no rate
    limits (`make fuzz` sends one user's imports faster than 600 a minute: 429s, not findings)."""
    return {
        "rate_limits_enabled": False,
        "snaptrade_client_id": CLIENT_ID,
        "snaptrade_consumer_key": CONSUMER_KEY,
        "snaptrade_base_url": "http://127.0.0.1:9",
        "stripe_secret_key": stripe_stub.SECRET_KEY,
        "stripe_webhook_secret": stripe_stub.WEBHOOK_SECRET,
        "stripe_premium_price_id": stripe_stub.PRICE_ID,
        "stripe_api_base": "http://127.0.0.1:9",
        "vendor_retry_attempts": 1,
    }


def assert_clean_answer(response: httpx.Response, sent: bytes) -> None:
    assert response.status_code < 500, (response.status_code, response.text, sent[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == response.status_code


@st.composite
def import_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    preset = draw(st.sampled_from([*imports.PRESETS, "auto"]))
    known = preset if preset in SAMPLE_FILES else draw(st.sampled_from(list(SAMPLE_FILES)))
    text = draw(st.sampled_from(sample_texts(known)))
    body = draw(
        st.one_of(
            mutated_text(text),
            st.just(text.encode()),
            st.binary(max_size=200),
            mutated_text(FLINT_CSV),
        )
    )
    return preset, body


IMPORTS = examples(import_bodies(), HTTP_EXAMPLES)


async def ledger(client: httpx.AsyncClient, who: Account, portfolio_id: str) -> list[Any]:
    response = await client.get(f"{V1}/portfolio/{portfolio_id}/transactions", headers=who.headers)
    assert response.status_code == 200
    rows: list[Any] = response.json()["transactions"]
    return rows


async def test_an_import_of_any_body_is_taken_whole_or_refused_whole(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    taken = 0
    for preset, body in IMPORTS:
        before = await ledger(client, alice, portfolio_id)
        response = await client.post(
            f"{V1}/portfolio/{portfolio_id}/import",
            params={"preset": preset},
            content=body,
            headers=alice.headers | {"Content-Type": "text/csv"},
        )
        assert_clean_answer(response, body)
        after = await ledger(client, alice, portfolio_id)
        if response.status_code >= 400:
            assert after == before, (preset, body[:300])
        else:
            taken += 1
            assert response.status_code in (200, 201)
            added = response.json()["transactions"]
            assert len(after) == len(before) + len(added)
    assert 0 < taken < len(IMPORTS), "the bodies both import and are refused"


WEBHOOK_BODIES = examples(
    st.tuples(
        st.one_of(st.binary(max_size=300), json_values.map(json_bytes)),
        st.dictionaries(
            st.sampled_from(["signature", "stripe-signature", "content-type", "x-other"]),
            st.from_regex(r"[ -~]{0,80}", fullmatch=True),
        ),
    ),
    HTTP_EXAMPLES,
)


async def stored(app: FastAPI) -> tuple[int, int]:
    sessions: async_sessionmaker[AsyncSession] = app.state.runtime.sessions
    async with sessions() as session:
        snaptrade = await session.scalar(select(func.count()).select_from(SnapTradeWebhook))
        stripe = await session.scalar(select(func.count()).select_from(BillingEvent))
    return int(snaptrade or 0), int(stripe or 0)


@pytest.mark.parametrize("path", ["/webhooks/snaptrade", "/billing/webhook"])
async def test_a_webhook_of_any_body_is_refused_and_nothing_is_kept(
    client: httpx.AsyncClient, app: FastAPI, path: str
) -> None:
    bodies = [*WEBHOOK_BODIES, (b"[" * 200_000 + b"]" * 200_000, {"signature": "x"})]
    for body, headers in bodies:
        for prefix in ("/api/v1", "/api"):
            response = await client.post(prefix + path, content=body, headers=headers)
            assert_clean_answer(response, body)
            assert response.status_code == 400, response.text
    assert await stored(app) == (0, 0)
