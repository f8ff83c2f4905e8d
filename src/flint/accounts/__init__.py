"""Linked accounts: linking at an institution, syncing balances, holdings and transactions,
and unlinking.

The public face other features import; the modules behind it are private to this feature.
"""

from flint.accounts.deps import AccountsDep, OwnedAccount
from flint.accounts.models import AccountHolding, LinkedAccount
from flint.accounts.reading import (
    activities,
    find_account,
    get_account,
    holdings,
    load_account,
    summaries,
)
from flint.accounts.service import AccountListener, Accounts, account_credentials, request_sync

__all__ = [
    "AccountHolding",
    "AccountListener",
    "Accounts",
    "AccountsDep",
    "LinkedAccount",
    "OwnedAccount",
    "account_credentials",
    "activities",
    "find_account",
    "get_account",
    "holdings",
    "load_account",
    "request_sync",
    "summaries",
]
