"""Institutions Flint links accounts at: the built-in sandbox, SnapTrade (brokerages) and
Teller (banks), behind one Protocol (`types.AccountProvider`)."""
