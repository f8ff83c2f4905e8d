"""Institutions Flint links accounts at: the built-in sandbox, SnapTrade (brokerages) and Teller
(banks), behind one Protocol (`AccountProvider`), and the registry of those this server offers.

Other features import it through `flint.brokerage.api`."""
