"""What the SnapTrade stub knows: users, connections, accounts and their orders."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.stubs.snaptrade.common import QUOTES, activities, fmt, iso, sample, universal_symbol


@dataclass
class Account:
    raw: dict[str, Any]
    connection_id: str
    balances: list[dict[str, Any]]
    positions: list[dict[str, Any]]
    positions_all: dict[str, Any]
    activities: list[dict[str, Any]]
    orders: list[dict[str, Any]] = field(default_factory=list)
    """Every order, live. Orders placed through ``/trade/place`` keep the ``client_order_id``
    that was sent (what the stub saw), which it never serves."""
    listed: list[dict[str, Any]] = field(default_factory=list)
    """The daily cache ``/orders`` serves to an API key without real-time data."""

    @property
    def id(self) -> str:
        return str(self.raw["id"])

    def refresh_cache(self) -> None:
        self.listed = copy.deepcopy(self.orders)


@dataclass
class Connection:
    id: str
    user_id: str
    broker: str
    type: str
    disabled: bool = False
    lists_orders: bool = True
    """False for a brokerage whose orders SnapTrade cannot list (``/orders`` and
    ``recentOrders`` answer 501)."""
    created: str = field(default_factory=lambda: iso(datetime.now(UTC)))


@dataclass
class User:
    user_id: str
    secret: str


@dataclass
class PortalSession:
    user_id: str
    connection_type: str
    redirect: str | None
    reconnect: str | None = None
    """The connection the portal repairs (the login's ``reconnect``), rather than adding one."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CheckedTrade:
    """A trade checked with ``POST /trade/impact``, placeable once with ``/trade/{id}``."""

    id: str
    user_id: str
    account_id: str
    symbol: str
    form: dict[str, Any]
    created: datetime
    placed: bool = False


@dataclass
class ImpactState:
    """The checked trades (:mod:`.impact`); tests move ``clock`` to expire them."""

    trades: dict[str, CheckedTrade] = field(default_factory=dict)
    commission: Decimal = Decimal("0")
    """The estimated commission of every checked trade."""
    clock: Callable[[], datetime] = _now

    def placed(self) -> list[CheckedTrade]:
        return [t for t in self.trades.values() if t.placed]


@dataclass
class SnapTradeState:
    users: dict[str, User] = field(default_factory=dict)
    connections: dict[str, Connection] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    sessions: dict[str, PortalSession] = field(default_factory=dict)
    deleted_users: list[str] = field(default_factory=list)
    deleted_connections: dict[str, Connection] = field(default_factory=dict)
    """Connections deleted through ``DELETE /connection/{id}``: SnapTrade queues the deletion
    and confirms it with a ``CONNECTION_DELETED`` webhook (:mod:`.webhooks` sends it)."""
    realtime: bool = False
    """Whether the API key has real-time data: without it ``/orders`` is the daily cache."""
    recent_orders: bool = True
    """Whether the key may use ``recentOrders`` (without: 403 feature not enabled)."""
    impact: ImpactState = field(default_factory=ImpactState)

    def fund(self, amount: Decimal) -> None:
        """Set every account's cash and buying power to ``amount`` (the balances sample has
        410.71 of buying power: less than two shares of most large companies at real prices)."""
        for account in self.accounts.values():
            for balance in account.balances:
                balance["cash"] = balance["buying_power"] = amount

    def connect(
        self,
        user_id: str,
        broker: str = "ROBINHOOD",
        kind: str = "trade",
        disabled: bool = False,
        *,
        lists_orders: bool = True,
    ) -> str:
        """A new brokerage authorization for ``user_id`` with its account; returns its id."""
        connection = Connection(
            str(uuid.uuid4()), user_id, broker, kind, disabled, lists_orders=lists_orders
        )
        self.connections[connection.id] = connection
        raw = copy.deepcopy(sample("snaptrade_accounts.json")[0])
        raw["id"] = str(uuid.uuid4())
        raw["brokerage_authorization"] = connection.id
        if broker == "COINBASE":
            raw.update(
                name="Coinbase",
                number="CB00004217",
                institution_name="Coinbase",
                raw_type="Crypto",
                meta={"type": "Crypto", "status": "ACTIVE", "institution_name": "Coinbase"},
                balance={"total": {"amount": Decimal("2500.50"), "currency": "USD"}},
            )
            balances = [
                {
                    "currency": {"code": "USD", "name": "US Dollar"},
                    "cash": Decimal("2500.50"),
                    "buying_power": Decimal("2500.50"),
                }
            ]
            account = Account(raw, connection.id, balances, [], {"results": []}, [])
        else:
            historical = copy.deepcopy(sample("snaptrade_orders.json")[0])
            two_days_ago = iso(datetime.now(UTC) - timedelta(days=2))
            historical.update(
                time_placed=two_days_ago,
                time_updated=two_days_ago,
                time_executed=two_days_ago,
                universal_symbol=universal_symbol("VAB.TO"),
            )
            account = Account(
                raw,
                connection.id,
                sample("snaptrade_balances.json"),
                sample("snaptrade_positions.json"),
                sample("snaptrade_positions_all.json"),
                activities(raw["id"]),
                [historical],
            )
        account.refresh_cache()
        self.accounts[account.id] = account
        return connection.id

    def user_accounts(self, user_id: str) -> list[Account]:
        return [
            a
            for a in self.accounts.values()
            if self.connections[a.connection_id].user_id == user_id
        ]

    def account_of(self, user_id: str, account_id: str) -> Account | None:
        account = self.accounts.get(account_id)
        if account is None or self.connections[account.connection_id].user_id != user_id:
            return None
        return account

    def orders_placed(self) -> list[dict[str, Any]]:
        """Every order placed through ``/trade/place`` (with the client order id it was sent
        with), the seeded and hand-placed ones left out."""
        return [o for a in self.accounts.values() for o in a.orders if "client_order_id" in o]

    def new_day(self) -> None:
        """SnapTrade's daily refresh of the cached order listings."""
        for account in self.accounts.values():
            account.refresh_cache()

    def place_by_hand(
        self, account_id: str, symbol: str, action: str, units: Decimal
    ) -> dict[str, Any]:
        """An order the user placed in the brokerage's own app: it is in the account's order
        listings but SnapTrade's order detail does not know it."""
        return self.record(self.accounts[account_id], symbol, action, units, "Market", None, None)

    def record(
        self,
        account: Account,
        symbol: str,
        action: str,
        units: Decimal,
        kind: str,
        limit: Decimal | None,
        stop: Decimal | None,
        time_in_force: str = "Day",
    ) -> dict[str, Any]:
        now = iso(datetime.now(UTC))
        executed = kind == "Market"
        order: dict[str, Any] = copy.deepcopy(sample("snaptrade_place_order.json"))
        order.update(
            brokerage_order_id=str(uuid.uuid4()),
            status="EXECUTED" if executed else "PENDING",
            universal_symbol=universal_symbol(symbol),
            action=action,
            total_quantity=fmt(units),
            open_quantity="0" if executed else fmt(units),
            canceled_quantity="0",
            filled_quantity=fmt(units) if executed else "0",
            execution_price=fmt(QUOTES[symbol]) if executed else None,
            limit_price=fmt(limit) if limit is not None else None,
            stop_price=fmt(stop) if stop is not None else None,
            order_type=kind,
            time_in_force=time_in_force,
            time_placed=now,
            time_updated=now,
            time_executed=now if executed else None,
            symbol=str(uuid.uuid5(uuid.NAMESPACE_URL, symbol)),
        )
        account.orders.append(order)
        return order


_ABSENT_WHEN_NULL = frozenset(
    {
        "child_brokerage_order_ids",
        "option_symbol",
        "order_role",
        "quote_currency",
        "quote_universal_symbol",
        "trailing_stop",
        "universal_symbol",
    }
)
"""Order record fields whose schema cannot be null as written: ``nullable: true`` beside an
``allOf`` and no ``type`` does nothing in OpenAPI 3.0.3, and ``order_role``'s enum has no
null. The spec's text says they are null when they do not apply; the stub leaves them out."""


def served(order: dict[str, Any]) -> dict[str, Any]:
    """An order record as SnapTrade's AccountOrderRecord has it (no client order id)."""
    return {
        k: v
        for k, v in order.items()
        if k != "client_order_id" and not (v is None and k in _ABSENT_WHEN_NULL)
    }
