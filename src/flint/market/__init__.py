"""Market data: quotes, daily and intraday bars and instrument search from a provider chain with
failover, the shared quote cache, stored bars, and the live quote stream.

Other features import it through `flint.market.api`."""
