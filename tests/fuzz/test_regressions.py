"""The inputs the fuzz tests found, each as a plain example: what escaped before as an
exception other than the parser's own refusal (a 500 at the route), or was read when it
should have been refused."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from flint.brokerage.snaptrade import mapping as snaptrade
from flint.brokerage.snaptrade.webhooks import verify_webhook
from flint.brokerage.teller import mapping as teller
from flint.errors import ValidationFailed
from flint.kit.vendor_errors import ProviderGarbage
from flint.market.providers.types import Bar
from flint.market.universe import load_universe
from flint.portfolio import ghostfolio, imports
from flint.portfolio.imports import ImportRefused
from flint.portfolio.imports.numbers import number
from flint.webhooks import WebhookRefused
from tests.fuzz.support import json_bytes
from tests.fuzz.test_market_providers import NOW, answer, yahoo
from tests.fuzz.test_webhooks import GATEWAY, KEY
from tests.fuzz.test_webhooks import NOW as WEBHOOK_NOW
from tests.stubs import stripe_api as stripe_stub

SAMPLES = Path(__file__).parent.parent / "portfolio" / "samples"
STUB_SAMPLES = Path(__file__).parent.parent / "stubs" / "samples"


@pytest.mark.parametrize("text", ["GBP", "USD", "$", "€", "(USD)", "-GBP"])
def test_a_cell_of_only_a_currency_is_no_number(text: str) -> None:
    """IndexError before: the marks stripped, ``"" in "+-"`` held and the sign was read."""
    with pytest.raises(ValueError, match="not a number"):
        number(text)


@pytest.mark.parametrize("text", ["\uff11\uff12", "\u0661\u0662", "1\uff10"])
def test_digits_of_other_scripts_are_no_number(text: str) -> None:
    """Read as 12 before (``\\d`` and `Decimal` take any script's digits)."""
    with pytest.raises(ValueError, match="not a number"):
        number(text)


def test_trading212_with_a_currency_in_a_number_column_is_422() -> None:
    lines = (SAMPLES / "trading212.csv").read_text("utf-8").splitlines()
    header = lines[0].split(",")
    shifted = ",".join([*header[:2], "", *header[2:]])  # every column one to the right
    data = "\n".join([shifted, *lines[1:]]).encode()
    with pytest.raises(ImportRefused):
        imports.parse(data, "trading212")


def test_a_flex_report_naming_an_unknown_encoding_is_422() -> None:
    """LookupError ("unknown encoding: NaN") before."""
    text = (SAMPLES / "ibkr_flex.xml").read_text("utf-8").replace('"UTF-8"', '"NaN"')
    with pytest.raises(ImportRefused) as refused:
        imports.parse(text.encode(), "ibkr-flex")
    assert refused.value.problems[0][0] == "body"


def test_ghostfolio_user_settings_that_are_not_an_object_name_no_currency() -> None:
    """AttributeError ('int' object has no attribute 'get') before."""
    export = json.loads((SAMPLES / "ghostfolio_export.json").read_text("utf-8"))
    settings: object
    for settings in (1, "EUR", [], None):
        export["user"] = {"settings": settings}
        doc = ghostfolio.parse(json.dumps(export).encode())
        reader = ghostfolio.Reader(doc, load_universe(), {}, date(2026, 12, 4))
        try:
            plan = reader.read("one", "GF", None)
        except ValidationFailed:  # the sample's own problems, if any: not an exception
            continue
        assert plan.portfolios[0].base == "USD"


def test_snaptrade_numbers_whose_product_overflows_are_garbage() -> None:
    """decimal.Overflow before: the cost basis is the unit cost times the units."""
    position = {
        "instrument": {"symbol": "AAPL"},
        "units": "1e999999",
        "cost_basis": "1e999999",
        "price": "1",
    }
    with pytest.raises(ProviderGarbage, match="too large"):
        snaptrade.position(position)
    activity = {
        "id": "a",
        "trade_date": "2024-03-01",
        "type": "BUY",
        "units": "9e17",
        "price": "9e17",
    }
    with pytest.raises(ProviderGarbage, match="too large"):
        snaptrade.transaction(activity)


@pytest.mark.parametrize("text", ["1e20", "-1e18", "1_000", "\uff11\uff12", "NaN", " 12 "])
def test_vendor_numbers_too_large_to_store_or_not_in_the_grammar_are_garbage(text: str) -> None:
    """1e20 was read before (and failed later, when stored as NUMERIC(38, 18)); Decimal also
    read 1_000 and full-width digits."""
    if text.strip() != text:  # SnapTrade strips its strings; Teller's are decimal strings
        assert snaptrade.opt_dec(text, "x") == Decimal(12)
    else:
        with pytest.raises(ProviderGarbage):
            snaptrade.opt_dec(text, "x")
    with pytest.raises(ProviderGarbage):
        teller.balances({"ledger": text}, {"type": "depository", "currency": "USD"})


NESTED = b"[" * 100_000 + b"]" * 100_000


def test_an_unsigned_deeply_nested_snaptrade_webhook_is_refused() -> None:
    """RecursionError (a 500, before any signature check) before."""
    with pytest.raises(WebhookRefused, match="nested too deeply"):
        verify_webhook(KEY, None, NESTED, "anything", now=WEBHOOK_NOW)


@pytest.mark.parametrize("body", [b"null", b"[]", b"1", b'"event"', NESTED])
def test_a_signed_stripe_body_that_is_no_event_object_is_refused(body: bytes) -> None:
    """AttributeError in stripe's construct_event ('NoneType' object has no attribute 'get')
    and RecursionError before."""
    with pytest.raises(WebhookRefused):
        GATEWAY.verify(body, stripe_stub.signature(body))


def yahoo_history(chart: dict[str, Any]) -> list[Bar]:
    async def go() -> list[Bar]:
        provider = yahoo(answer(json_bytes(chart)))
        try:
            return await provider.history("OCDO.L", date(2020, 1, 1), date(2020, 1, 3), now=NOW)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def ocado() -> dict[str, Any]:
    chart: dict[str, Any] = json.loads(
        (STUB_SAMPLES / "yahoo_chart_daily_OCDO.L_GBp.json").read_text("utf-8")
    )
    return chart


@pytest.mark.parametrize("period", ["closed", 1, [], {"regular": "x"}])
def test_a_yahoo_trading_period_that_is_not_an_object_is_not_used(period: object) -> None:
    """AttributeError ('str' object has no attribute 'get') before."""
    chart = ocado()
    chart["chart"]["result"][0]["meta"]["currentTradingPeriod"] = period
    [bar] = yahoo_history(chart)
    assert bar.close == Decimal("1259.5")


@pytest.mark.parametrize("stamp", [10**20, -(10**20), 253402300800, True])
def test_a_yahoo_time_beyond_any_date_is_garbage(stamp: int) -> None:
    """OverflowError or ValueError (year 10000) before; True was read as 1970-01-01."""
    chart = ocado()
    chart["chart"]["result"][0]["timestamp"][0] = stamp
    with pytest.raises(ProviderGarbage, match="bad timestamp"):
        yahoo_history(chart)
