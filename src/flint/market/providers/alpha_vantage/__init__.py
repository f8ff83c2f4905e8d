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
* Equity daily bars carry the dividend- and split-adjusted close as ``adj_close`` (with
  ``adjusted=False``, the free TIME_SERIES_DAILY is used and ``adj_close == close``). Intraday
  bars are unadjusted, like the daily OHLC.
* Crypto volume is converted from coins to the quote currency (coins x close), as Flint counts
  it everywhere; FX has no volume (0).
* Intraday history is equities only, fetched one calendar month per request, and limited to
  :data:`MAX_INTRADAY_DAYS` per call so that one call cannot spend a day's quota.

The package: ``client`` makes the calls (the API key, the in-band errors and throttling),
``mapping`` turns symbols into requests and Alpha Vantage's JSON into Flint's types by the
conventions above, and ``provider`` is the `MarketDataProvider` flow.
"""

from flint.market.providers.alpha_vantage.client import DEFAULT_BASE_URL, DEFAULT_POLICY
from flint.market.providers.alpha_vantage.provider import MAX_INTRADAY_DAYS, AlphaVantageProvider

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_POLICY", "MAX_INTRADAY_DAYS", "AlphaVantageProvider"]
