"""Institutions Flint links accounts at: the built-in sandbox, SnapTrade (brokerages) and Teller
(banks), behind one Protocol (`AccountProvider`), and the registry of those this server offers.

The public face other features import (the Protocol, the values it trades in, its errors and
the registry); the adapters behind it are private to this feature.
"""

from flint.brokerage.registry import AccountProviders, credential_box
from flint.brokerage.types import (
    FINAL_STATUSES,
    AccountGone,
    AccountProvider,
    AccountProviderError,
    AccountType,
    Balances,
    Capability,
    Credentials,
    Holding,
    Identity,
    Link,
    LinkRefused,
    Order,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    ProviderAccount,
    TimeInForce,
    Transaction,
    Unsupported,
)

__all__ = [
    "FINAL_STATUSES",
    "AccountGone",
    "AccountProvider",
    "AccountProviderError",
    "AccountProviders",
    "AccountType",
    "Balances",
    "Capability",
    "Credentials",
    "Holding",
    "Identity",
    "Link",
    "LinkRefused",
    "Order",
    "OrderAction",
    "OrderRejected",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "ProviderAccount",
    "TimeInForce",
    "Transaction",
    "Unsupported",
    "credential_box",
]
