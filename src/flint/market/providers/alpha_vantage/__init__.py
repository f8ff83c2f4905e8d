"""``alpha_vantage``: market data from Alpha Vantage's JSON API (``/query?function=...``).

Symbols: equities and ETFs as Alpha Vantage spells them (AAPL, IBM, TSCO.LON); crypto as
``BASE-FIAT`` (BTC-USD, sent as ``symbol=BTC&market=USD``); FX as ``EURUSD=X`` (sent as
``from_symbol=EUR&to_symbol=USD``).

Alpha Vantage reports errors and throttling with HTTP 200 and a single ``Error Message``,
``Note`` or ``Information`` key; those become exceptions here and are never read as data.

Conventions, matching the simulated provider:

* Prices are ``Decimal`` parsed from the vendor's strings, unrounded.
* A daily bar is stamped with its session's opening instant in UTC: 09:30 in the series' time
  zone for equities (``US/Eastern`` for US listings, so the NYSE open; NYSE days use the
  exchange calendar), 00:00 UTC for crypto and FX. Intraday times are wall-clock times in the
  series' ``Time Zone`` and name the bar's start. 1wk and 1mo bars are built from daily bars
  (Monday-Sunday weeks, calendar months, returned whole).
* ``history`` returns completed bars only; ``now`` (default: the current time) decides.
* The plan (``FLINT_ALPHA_VANTAGE_PLAN``) decides what is asked: a ``free`` key gets equity
  days from TIME_SERIES_DAILY with compact output only (the latest 100 sessions; older history
  is refused without asking, as Alpha Vantage would refuse it), so ``adj_close == close``; a
  ``premium`` key gets TIME_SERIES_DAILY_ADJUSTED (``adj_close`` the dividend- and
  split-adjusted close) and full output for longer ranges. Intraday bars are unadjusted, like
  the daily OHLC.
* In-band notices are classified: a demo or invalid key, and a premium notice on a premium
  plan, are configuration errors (``ProviderMisconfigured``, named by `/readyz`); a premium
  notice on the free plan is a ProviderError; the per-second, per-minute and daily limits are
  throttling.
* Crypto volume is converted from coins to the quote currency (coins x close), as Flint counts
  it everywhere; FX has no volume (0).
* Intraday history is equities only, fetched one calendar month per request, and limited to
  :data:`MAX_INTRADAY_DAYS` per call so that one call cannot spend a day's quota.

The package: ``client`` makes the calls (the API key, the in-band errors and throttling),
``mapping`` turns symbols into requests and Alpha Vantage's JSON into Flint's types by the
conventions above, and ``provider`` is the `MarketDataProvider` flow.
"""

from flint.market.providers.alpha_vantage.client import (
    DEFAULT_BASE_URL,
    DEFAULT_POLICY,
    RATE_LIMITS,
    Plan,
)
from flint.market.providers.alpha_vantage.provider import MAX_INTRADAY_DAYS, AlphaVantageProvider

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_POLICY",
    "MAX_INTRADAY_DAYS",
    "RATE_LIMITS",
    "AlphaVantageProvider",
    "Plan",
]
