"""``yahoo``: market data from Yahoo Finance's unofficial v8 chart and v1 search endpoints.

Symbols are Yahoo's own (AAPL, BRK-B, BTC-USD, EURUSD=X, ^GSPC, OCDO.L). Prices are in the
currency Yahoo names, which for London listings is pence (``GBp``).

Conventions, matching the simulated provider:

* Yahoo sends prices as JSON numbers that are float32 values printed as float64
  (``129.0399932861328``). They are read as Decimal from the JSON text, and a value that is
  exactly a float32 is replaced by the shortest decimal that float32 stands for (``129.04``);
  any other value is kept as written. Nothing passes through rounding to a fixed precision.
* A daily bar is stamped with its session's opening instant in UTC: the exchange calendar for
  New York listings, the regular-session start Yahoo reports for other exchanges, and 00:00
  UTC for crypto and FX. Intraday bars keep Yahoo's start times. 1wk and 1mo bars are built
  from daily bars (Monday-Sunday weeks, calendar months, returned whole).
* ``history`` returns completed bars only; ``now`` (default: the current time) decides. Bars
  with a null price (Yahoo has them) are skipped; NaN or non-positive prices are garbage.
* ``adj_close`` is Yahoo's split- and dividend-adjusted close for daily bars, ``close`` for
  intraday ones.

What Yahoo asks of a client: a browser's User-Agent (:data:`USER_AGENT`; scripts and bots get
429s); when the chart or search answers 401 "Invalid Crumb", the cookie from fc.yahoo.com and a
crumb from ``/v1/test/getcrumb``, then the call once more with ``crumb=`` (the crumb is kept for
later calls, and fetched again when Yahoo stops accepting it); a 401 that survives this is an
authentication refusal (ProviderError), not garbage. 429s are retried with backoff, honouring
Retry-After, by the vendor client (tenacity), then ProviderThrottled.

The package: ``client`` makes the calls (Yahoo's ``chart.error`` and HTTP failures read into
Flint's errors, JSON numbers kept as their text), ``mapping`` turns the answers into Flint's
types by the conventions above, and ``provider`` is the `MarketDataProvider` flow.
"""

from flint.market.providers.yahoo.client import DEFAULT_BASE_URL, DEFAULT_POLICY, USER_AGENT
from flint.market.providers.yahoo.provider import MAX_INTRADAY_DAYS, YahooProvider

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_POLICY",
    "MAX_INTRADAY_DAYS",
    "USER_AGENT",
    "YahooProvider",
]
