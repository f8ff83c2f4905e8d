"""Build the provider chain named by `FLINT_MARKET_PROVIDERS`, once per process."""

from __future__ import annotations

import structlog
from cashews import Cache
from limits.aio.storage import Storage

from flint.config import Settings
from flint.kit.ratelimit import make_storage
from flint.market.providers.alpha_vantage import RATE_LIMITS as ALPHA_VANTAGE_LIMITS
from flint.market.providers.alpha_vantage import AlphaVantageProvider
from flint.market.providers.simulated import SimulatedMarket
from flint.market.providers.types import MarketDataProvider
from flint.market.providers.yahoo import YahooProvider
from flint.market.service import MarketData
from flint.market.universe import Universe, load_universe

log = structlog.get_logger(__name__)


def build_market(settings: Settings, cache: Cache) -> MarketData:
    """The market-data service of one process (API or worker): its providers keep their
    circuit breakers and rate budgets for the life of the process. The budgets live in Redis
    when it is configured, so every process shares one allowance per vendor."""
    universe = load_universe()
    storage = make_storage(settings.redis_url) if settings.redis_url else None
    return MarketData(
        build_providers(settings, universe, storage=storage),
        universe=universe,
        cache=cache,
        quote_ttl=settings.quote_ttl_seconds,
    )


def build_providers(
    settings: Settings, universe: Universe, *, storage: Storage | None = None
) -> list[MarketDataProvider]:
    """The chain in the configured order. Alpha Vantage without a key cannot answer anything,
    so it is left out with a warning rather than failing every call."""
    chain: list[MarketDataProvider] = []
    for name in dict.fromkeys(settings.market_providers):
        if name == "simulated":
            chain.append(SimulatedMarket(universe))
        elif name == "yahoo":
            chain.append(
                YahooProvider(
                    base_url=settings.yahoo_base_url,
                    cookie_url=settings.yahoo_cookie_url,
                    policy=settings.vendor_policy(settings.yahoo_rate_limits),
                    storage=storage,
                )
            )
        elif settings.alpha_vantage_api_key is None:
            log.warning("alpha_vantage_skipped", reason="FLINT_ALPHA_VANTAGE_API_KEY is not set")
        else:
            chain.append(
                AlphaVantageProvider(
                    settings.alpha_vantage_api_key.get_secret_value(),
                    base_url=settings.alpha_vantage_base_url,
                    plan=settings.alpha_vantage_plan,
                    policy=settings.vendor_policy(
                        settings.alpha_vantage_rate_limits
                        or ALPHA_VANTAGE_LIMITS[settings.alpha_vantage_plan]
                    ),
                    storage=storage,
                )
            )
    if not chain:
        log.warning("market_providers_empty", fallback="simulated")
        chain.append(SimulatedMarket(universe))
    names = [provider.name for provider in chain]
    if "simulated" in names[1:]:
        log.warning(
            "market_invented_fallback",
            providers=names,
            detail="when the vendors before it cannot answer, the simulated market stands in "
            "with invented prices: quotes, and daily history that is stored and kept",
        )
    return chain
