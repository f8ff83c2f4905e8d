"""What every account provider (institution) speaks: the Protocol and the values it trades in.

Conventions, the same for every provider:

* Money is ``Decimal``, never float; amounts are in the account's ``currency``.
* A transaction's ``amount`` is signed from the account holder's side: money in (salary,
  deposit, sale proceeds, dividend) is positive, money out (card spend, rent, purchase, fee)
  negative.
* ``Credentials`` are the provider's secrets for one link (access tokens, user secrets). They
  are a flat ``dict[str, str]``; Flint encrypts them at rest and never shows or logs them.
* ``Identity`` is what some providers need per Flint user before any link (SnapTrade's
  ``userId``/``userSecret``); providers without one return ``{}`` from ``register``.
* Failures: `LinkRefused` for an auth code the provider turns down (its reason is safe to
  show); `AccountGone` for an account or link the provider no longer knows; `OrderRejected`
  for an order the provider refused (permanent); `Unsupported` for an operation outside the
  provider's `capabilities`. Transient failures (timeouts, 5xx, throttling, an open circuit)
  are `flint.kit.vendor_errors.ProviderUnavailable` / `ProviderThrottled`, raised only after
  the provider's own retries; nonsense from the vendor is `ProviderGarbage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

Credentials = dict[str, str]
Identity = dict[str, str]


class AccountType(StrEnum):
    BROKERAGE = "brokerage"
    CRYPTO = "crypto"
    CHECKING = "checking"
    SAVINGS = "savings"
    CREDIT = "credit"


class Capability(StrEnum):
    BALANCES = "balances"
    HOLDINGS = "holdings"
    TRANSACTIONS = "transactions"
    TRADING = "trading"
    PORTAL = "portal"
    """The user links through a hosted connection portal (`connect_url`) first."""


class OrderAction(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    """Flint's one order lifecycle; every provider's statuses map onto it."""

    PENDING = "pending"
    """Accepted by Flint, not yet at the provider (or the provider has not acknowledged it)."""
    SUBMITTED = "submitted"
    """Open at the provider, nothing filled yet."""
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    REJECTED = "rejected"
    CANCELED = "canceled"
    EXPIRED = "expired"
    FAILED = "failed"
    """Flint could not get a definite answer and gave up (never for a provider's refusal)."""
    UNKNOWN = "unknown"
    """Sent, but the provider could not confirm whether it placed the order: it is never sent
    again; a person or the periodic sweep settles it from the provider's records."""

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES


MAX_NUMBER = Decimal("1e18")
"""Beyond any real quantity, price or amount a brokerage or bank reports: a vendor's number
(or a product of two) at or past it is garbage. Flint stores them as NUMERIC(38, 18), 20
integer digits, and two numbers under it multiply without overflowing `Decimal`."""

FINAL_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.REJECTED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
        OrderStatus.FAILED,
    }
)


@dataclass(frozen=True)
class ProviderAccount:
    """One account at the provider. ``id`` is the provider's own id for it."""

    id: str
    name: str
    type: AccountType
    currency: str
    institution: str
    mask: str | None = None
    """Last digits of the account number, when the provider gives them."""
    can_trade: bool = False


@dataclass(frozen=True)
class Balances:
    currency: str
    current: Decimal
    """What the account holds now: for a brokerage cash plus positions' value; for a bank the
    ledger balance; for a credit card what is owed (positive)."""
    available: Decimal | None = None
    cash: Decimal | None = None
    buying_power: Decimal | None = None


@dataclass(frozen=True)
class Holding:
    symbol: str
    quantity: Decimal
    price: Decimal | None
    """The provider's last price per unit, if it gives one."""
    cost_basis: Decimal | None = None
    """Total cost of the position (not per unit), when known."""
    currency: str = "USD"
    name: str | None = None


@dataclass(frozen=True)
class Transaction:
    id: str
    """The provider's id: stable, so a re-sync updates rather than duplicates."""
    date: date
    amount: Decimal
    description: str
    status: str = "posted"
    """``posted`` or ``pending``."""
    category: str | None = None
    type: str | None = None
    """The provider's kind: card_payment, transfer, deposit, buy, sell, dividend, fee, ..."""
    symbol: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    currency: str = "USD"


@dataclass(frozen=True)
class Link:
    """What linking gave: the credentials to keep and the accounts now reachable."""

    credentials: Credentials
    accounts: list[ProviderAccount]


@dataclass(frozen=True)
class OrderRequest:
    account_id: str
    """The provider's account id."""
    client_order_id: str
    """Flint's id for this order (derived from the trade id): a provider that has seen it
    already must not place a second order, and `find_order` looks orders up by it."""
    symbol: str
    action: OrderAction
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    time_in_force: TimeInForce = TimeInForce.DAY
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    not_before: datetime | None = None
    """When Flint created the order: none placed earlier can be this one. Lets a provider that
    does not echo client order ids (SnapTrade's documented records) recognise it."""
    preview_id: str | None = None
    """The provider's id of the checked trade this order places (`OrderPreview.provider_ref`):
    the provider places exactly that trade, which it accepts once."""


@dataclass(frozen=True)
class OrderPreview:
    """What an order would do, as the provider estimates it before placing (nothing is sent to
    the market). Amounts are in the account's currency."""

    estimated_price: Decimal | None
    """Per unit: the limit price for limit orders, the provider's current price otherwise
    (None when the provider gives none: Flint then estimates from its own market price)."""
    estimated_value: Decimal | None
    """``quantity * estimated_price``, before commission."""
    commission: Decimal
    buying_power_after: Decimal | None
    """Cash (or buying power) left after the order, when the provider says."""
    warnings: list[str] = field(default_factory=list)
    provider_ref: str | None = None
    """The provider's id of the checked trade, placed with ``OrderRequest.preview_id``
    (SnapTrade's trade id); None when the provider places from the order itself."""
    expires_at: datetime | None = None
    """When the provider forgets ``provider_ref`` (None: no expiry of its own)."""


@dataclass(frozen=True)
class Order:
    """An order as the provider reports it."""

    provider_order_id: str
    client_order_id: str | None
    status: OrderStatus
    symbol: str
    action: OrderAction
    quantity: Decimal
    filled_quantity: Decimal = Decimal(0)
    average_price: Decimal | None = None
    fees: Decimal = Decimal(0)
    reason: str | None = None
    """Why it was rejected, canceled or expired, in the provider's words."""
    placed_at: datetime | None = None
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    raw_status: str | None = None
    """The provider's own status word, kept for the audit trail."""
    extra: dict[str, str] = field(default_factory=dict)


class AccountProvider(Protocol):
    """One institution. Every method talks to it afresh (no caching here); methods outside
    ``capabilities`` raise `Unsupported`."""

    name: str
    capabilities: frozenset[Capability]

    async def register(self, user_key: str) -> Identity:
        """Create (or find) the provider-side user for a Flint user; ``user_key`` is stable
        and not personal (Flint's user id). ``{}`` when the provider has no such notion."""
        ...

    async def deregister(self, identity: Identity) -> None:
        """Delete the provider-side user `register` made, with whatever it still holds (the
        Flint user is leaving); never raises for a user the provider no longer knows."""
        ...

    async def connect_url(self, identity: Identity, *, redirect_url: str | None) -> str:
        """The hosted portal where the user connects an institution (``PORTAL``)."""
        ...

    async def link(self, identity: Identity, auth_code: str) -> Link:
        """Exchange what the user brought back (a sandbox code, Teller's access token,
        SnapTrade's authorization id) for credentials and the accounts they reach.
        Raises LinkRefused for a code the provider turns down."""
        ...

    async def accounts(
        self, identity: Identity, credentials: Credentials
    ) -> list[ProviderAccount]: ...

    async def balances(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> Balances: ...

    async def holdings(
        self, identity: Identity, credentials: Credentials, account_id: str
    ) -> list[Holding]: ...

    async def transactions(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        *,
        since: date | None = None,
    ) -> list[Transaction]:
        """Newest first; all of them (the provider pages internally), from ``since`` on."""
        ...

    async def place_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> Order:
        """Send the order once (never retried blindly: a timeout raises ProviderUnavailable
        and the caller checks `find_order` before trying again)."""
        ...

    async def preview_order(
        self, identity: Identity, credentials: Credentials, order: OrderRequest
    ) -> OrderPreview:
        """Estimate the order without placing it (price, value, commission, what is left);
        a provider that checks orders first also returns the id to place it with."""
        ...

    async def find_order(
        self,
        identity: Identity,
        credentials: Credentials,
        account_id: str,
        client_order_id: str,
        *,
        request: OrderRequest | None = None,
    ) -> Order | None:
        """The order placed with ``client_order_id``, if the provider has one; None only when
        the provider can say it has none. ``request`` is the order as it was sent: a provider
        whose records lack client order ids matches on it (symbol, side, quantity, placed
        after ``not_before``). Raises `OrderUnconfirmed` when the provider cannot tell (the
        caller must not send the order again)."""
        ...

    async def get_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order: ...

    async def cancel_order(
        self, identity: Identity, credentials: Credentials, account_id: str, provider_order_id: str
    ) -> Order:
        """Ask to cancel; returns the order as it stands after (maybe already filled)."""
        ...

    async def unlink(self, identity: Identity, credentials: Credentials) -> None:
        """Revoke the link at the provider where it can be revoked; never raises for a link
        the provider no longer knows."""
        ...

    async def aclose(self) -> None: ...


class AccountProviderError(Exception):
    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason


class LinkRefused(AccountProviderError):
    """The provider turned the auth code down (bad, expired or already used)."""


class AccountGone(AccountProviderError):
    """The provider no longer knows this account or link (revoked, closed, disconnected)."""


class OrderRejected(AccountProviderError):
    """The provider refused the order; final."""


class OrderUnconfirmed(AccountProviderError):
    """`find_order` cannot tell whether the order was placed (the provider cannot list it, or
    more than one of its orders could be it): placing it again might place it twice."""

    def __init__(self, provider: str, reason: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(provider, reason)
        self.candidates = candidates
        """The provider's ids of the orders that could be it."""


class Unsupported(AccountProviderError):
    """The operation is outside the provider's capabilities."""
