"""The vendor adapters under test, each with its stub: what ``tests/market/conftest.py`` needs
to serve the stub and build the adapter against it, and what the shared tests ask of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette

from flint.kit.http import VendorPolicy
from flint.market.providers import alpha_vantage, yahoo
from flint.market.providers.types import Interval
from tests.stubs import alpha_vantage as alpha_vantage_stub
from tests.stubs import yahoo as yahoo_stub

FAST = VendorPolicy(
    connect_timeout=5.0,
    read_timeout=1.5,
    attempts=2,
    backoff_initial=0.01,
    backoff_max=0.02,
    breaker_threshold=100,
)
"""Quick to give up, so failure tests take milliseconds; the breaker stays out of the way. The
read timeout leaves room for a loaded CI machine (the stub shares the test's process); no test
here times a connection out, and on a busy machine a 1 s connect to the stub on loopback once
did, so a 500 scenario saw one request instead of two."""

Build = Callable[..., Any]
"""The ``build`` fixture: vendor options and :class:`VendorPolicy` overrides -> an adapter."""


def _alpha_vantage(
    base_url: str,
    api_key: str = alpha_vantage_stub.API_KEY,
    *,
    plan: alpha_vantage.Plan = "free",
    **policy: Any,
) -> alpha_vantage.AlphaVantageProvider:
    return alpha_vantage.AlphaVantageProvider(
        api_key, base_url=base_url, policy=replace(FAST, **policy), plan=plan
    )


def _yahoo(base_url: str, **policy: Any) -> yahoo.YahooProvider:
    return yahoo.YahooProvider(
        base_url=base_url, cookie_url=f"{base_url}/", policy=replace(FAST, **policy)
    )


@dataclass(frozen=True)
class Vendor:
    """One adapter: its provider name, its stub app, how to build it against the stub's URL
    (``connect(url, *options, **policy_overrides)``), a stock the stub quotes at ``price``, and
    the adapter's intraday range limits."""

    name: str
    create_app: Callable[[], Starlette]
    connect: Callable[..., Any]
    symbol: str
    price: Decimal
    max_intraday_days: Mapping[Interval, int]
    throttles_with_429: bool = True
    """False for Alpha Vantage, which throttles with HTTP 200 bodies (its own tests)."""


ALPHA_VANTAGE = Vendor(
    "alpha_vantage",
    alpha_vantage_stub.create_app,
    _alpha_vantage,
    "MSFT",
    Decimal("112.1300"),
    alpha_vantage.MAX_INTRADAY_DAYS,
    throttles_with_429=False,
)
YAHOO = Vendor(
    "yahoo", yahoo_stub.create_app, _yahoo, "AAPL", Decimal("118.69"), yahoo.MAX_INTRADAY_DAYS
)
