"""The public face of `flint.accounts`: what other features may import (the modules behind it
are private to the feature, and `make lint` holds them to that)."""

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
