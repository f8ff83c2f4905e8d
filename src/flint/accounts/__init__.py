"""Linked accounts: linking at an institution, syncing balances, holdings and transactions,
and unlinking.

Other features import it through `flint.accounts.api`."""
