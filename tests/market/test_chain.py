"""The provider chain as configured: what the operator is told about it."""

from __future__ import annotations

import pytest
import structlog

from flint.market.providers.factory import build_providers
from flint.market.universe import load_universe
from tests.conftest import explicit_settings


@pytest.mark.parametrize(
    ("providers", "warned"),
    [
        (["yahoo", "simulated"], True),
        (["alpha_vantage", "yahoo", "simulated"], True),
        (["yahoo"], False),
        (["simulated"], False),
    ],
)
def test_the_simulated_market_behind_a_vendor_is_announced_as_invented_prices(
    providers: list[str], warned: bool
) -> None:
    settings = explicit_settings(
        {"market_providers": providers, "alpha_vantage_api_key": "demo", "redis_url": None}
    )
    with structlog.testing.capture_logs() as logs:
        chain = build_providers(settings, load_universe())

    assert [provider.name for provider in chain] == providers
    said = [entry for entry in logs if entry["event"] == "market_invented_fallback"]
    assert bool(said) is warned
    if warned:
        assert said[0]["log_level"] == "warning"
        assert "invented prices" in said[0]["detail"]
