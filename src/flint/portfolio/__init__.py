"""Portfolios: the ledger of transactions, custom assets, following a linked brokerage
account, and exact performance analytics with charts.

Other features import it through `flint.portfolio.api`."""
