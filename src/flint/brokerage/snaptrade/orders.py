"""SnapTrade orders: placing one at most once, finding it again, reading and cancelling it.

`place_order` is ``POST /trade/place`` (Market/Limit/Stop/StopLimit, Day/GTC/FOK/IOC,
``units``, ``price``/``stop``, ``client_order_id``), sent once (``retry=False``): a timeout,
5xx or 429 raises and the caller asks `find_order` before trying again. A 4xx is
`OrderRejected` with SnapTrade's message (insufficient funds, unknown symbol, read-only
connection), except a 401, which is the link or Flint's API key (see the client). SnapTrade
wants a UUID as ``client_order_id``; a Flint id that is not one is sent as a UUIDv5 of it (the
same in `find_order`). SnapTrade passes ``client_order_id`` on to the broker but does not
enforce that it is unique, and its documented order record (AccountOrderRecord) has no such
field:

* `find_order` lists the account's orders (``/accounts/{id}/orders?state=all``) and matches
  ``client_order_id`` when the records carry it; several matches give the oldest (and a
  warning). When no record carries the field, it falls back to what this process sent (symbol,
  side, quantity, placed after sending); when it has no such memory either it raises
  ProviderError rather than answer "not placed", which could place the order twice.
* `place_order` first asks `find_order` when this process has sent that ``client_order_id``
  before, and returns the existing order instead of placing a second one.
* `get_order` finds the order in the same list, and raises the plain AccountProviderError for
  an order not in the last :data:`ORDER_HISTORY_DAYS` days; `cancel_order` is
  ``POST /accounts/{id}/trading/cancel`` and returns the order as it then stands (a cancel
  SnapTrade refuses with a 400, say for an order already filled, still returns the order).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import structlog

from flint.brokerage.snaptrade import mapping
from flint.brokerage.snaptrade.client import NAME, SnapTradeClient, seg
from flint.brokerage.types import (
    AccountProviderError,
    Order,
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderType,
    TimeInForce,
)
from flint.kit.vendor_errors import ProviderError, ProviderGarbage

log = structlog.get_logger(__name__)

ORDER_HISTORY_DAYS = 30
"""How far back `find_order` and `get_order` look (``days`` of the orders listing)."""
PLACED_SKEW = timedelta(minutes=2)
"""Clock difference allowed between Flint and the broker when matching an order by what was
sent (see `find_order`)."""
_MEMORY = 1000
"""Orders this process remembers having sent."""

_CLIENT_ORDER_NAMESPACE = uuid.UUID("5d2c4f8e-6a0b-4c1e-9a57-3f1b2e8d7c60")
_ORDER_TYPES = {
    OrderType.MARKET: "Market",
    OrderType.LIMIT: "Limit",
    OrderType.STOP: "Stop",
    OrderType.STOP_LIMIT: "StopLimit",
}
_TIME_IN_FORCE = {
    TimeInForce.DAY: "Day",
    TimeInForce.GTC: "GTC",
    TimeInForce.FOK: "FOK",
    TimeInForce.IOC: "IOC",
}


@dataclass(frozen=True)
class _Sent:
    """An order this process sent, to recognise it when SnapTrade does not echo its id."""

    account_id: str
    symbol: str
    action: OrderAction
    quantity: Decimal
    at: datetime


class OrderDesk:
    """The orders of one provider, with its memory of what this process sent."""

    def __init__(self, http: SnapTradeClient) -> None:
        self._http = http
        self._sent: dict[str, _Sent] = {}

    async def place(self, user: tuple[str, str], order: OrderRequest) -> Order:
        body = _order_body(order)
        if order.client_order_id in self._sent:
            existing = await self.find(user, order.account_id, order.client_order_id)
            if existing is not None:
                log.info(
                    "snaptrade_order_already_placed",
                    account_id=order.account_id,
                    client_order_id=order.client_order_id,
                    provider_order_id=existing.provider_order_id,
                )
                return existing
        self._remember(order)
        response = await self._http.call("POST", "/trade/place", user=user, body=body, retry=False)
        if not response.is_success:
            if response.status_code == httpx.codes.UNAUTHORIZED:
                self._http.refused(response)
            detail, _ = self._http.error(response)
            raise OrderRejected(NAME, detail)
        raw = self._http.parse(response, "the placed order")
        if not isinstance(raw, dict):
            raise ProviderGarbage(NAME, "the placed order is not an object")
        return mapping.order(raw, order.client_order_id)

    async def find(
        self,
        user: tuple[str, str],
        account_id: str,
        client_order_id: str,
        request: OrderRequest | None = None,
    ) -> Order | None:
        records = await self._records(user, account_id)
        wanted = _vendor_client_id(client_order_id)
        if any("client_order_id" in raw for raw in records):
            matches = [
                raw for raw in records if raw.get("client_order_id") in (wanted, client_order_id)
            ]
        elif not records:
            return None
        else:
            sent = self._sent.get(client_order_id)
            if sent is None and request is not None and request.not_before is not None:
                # Another process sent it (a worker that died): Flint's own record says what.
                sent = _Sent(
                    request.account_id,
                    request.symbol.upper(),
                    request.action,
                    request.quantity,
                    request.not_before - PLACED_SKEW,
                )
            if sent is None or sent.account_id != account_id:
                raise ProviderError(
                    NAME,
                    "SnapTrade does not say which order has this client order id; "
                    "check the brokerage before placing it again",
                )
            matches = [raw for raw in records if _looks_sent(raw, sent)]
        if not matches:
            return None
        orders = [mapping.order(raw, client_order_id) for raw in matches]
        orders.sort(key=lambda o: o.placed_at or datetime.min.replace(tzinfo=UTC))
        if len(orders) > 1:
            log.warning(
                "snaptrade_client_order_id_repeated",
                account_id=account_id,
                client_order_id=client_order_id,
                provider_order_ids=[o.provider_order_id for o in orders],
            )
        return orders[0]

    async def get(self, user: tuple[str, str], account_id: str, provider_order_id: str) -> Order:
        for raw in await self._records(user, account_id):
            if raw.get("brokerage_order_id") == provider_order_id:
                return mapping.order(raw, None)
        raise AccountProviderError(
            NAME,
            f"SnapTrade lists no order {provider_order_id} in the last {ORDER_HISTORY_DAYS} days",
        )

    async def cancel(self, user: tuple[str, str], account_id: str, provider_order_id: str) -> Order:
        response = await self._http.call(
            "POST",
            f"/accounts/{seg(account_id)}/trading/cancel",
            user=user,
            body={"brokerage_order_id": provider_order_id},
            retry=True,
        )
        if not response.is_success:
            status = response.status_code
            if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
                self._http.refused(response)
            detail, _ = self._http.error(response)
            log.info(
                "snaptrade_cancel_refused",
                account_id=account_id,
                provider_order_id=provider_order_id,
                status=status,
                detail=detail,
            )
        return await self.get(user, account_id, provider_order_id)

    async def _records(self, user: tuple[str, str], account_id: str) -> list[dict[str, Any]]:
        params = {"state": "all", "days": str(ORDER_HISTORY_DAYS)}
        body = await self._http.get(
            user, f"/accounts/{seg(account_id)}/orders", "the orders", params
        )
        records = mapping.objects(body, "the orders")
        for raw in records:
            mapping.required_str(raw, "brokerage_order_id", "an order")
        return records

    def _remember(self, order: OrderRequest) -> None:
        if len(self._sent) >= _MEMORY:
            del self._sent[next(iter(self._sent))]
        self._sent[order.client_order_id] = _Sent(
            order.account_id,
            order.symbol.upper(),
            order.action,
            order.quantity,
            datetime.now(UTC) - PLACED_SKEW,
        )


def _looks_sent(raw: dict[str, Any], sent: _Sent) -> bool:
    try:
        order = mapping.order(raw, None)
    except ProviderGarbage:
        return False
    return (
        order.symbol.upper() == sent.symbol
        and order.action is sent.action
        and order.quantity == sent.quantity
        and order.placed_at is not None
        and order.placed_at >= sent.at
    )


def _order_body(order: OrderRequest) -> dict[str, Any]:
    if order.quantity <= 0:
        raise ValueError("an order's quantity must be positive")
    needs_limit = order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    needs_stop = order.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
    if needs_limit != (order.limit_price is not None):
        raise ValueError("a limit price goes with (and only with) limit orders")
    if needs_stop != (order.stop_price is not None):
        raise ValueError("a stop price goes with (and only with) stop orders")
    body: dict[str, Any] = {
        "account_id": order.account_id,
        "action": "BUY" if order.action is OrderAction.BUY else "SELL",
        "order_type": _ORDER_TYPES[order.order_type],
        "time_in_force": _TIME_IN_FORCE[order.time_in_force],
        "symbol": order.symbol,
        "units": _wire(order.quantity),
        "client_order_id": _vendor_client_id(order.client_order_id),
    }
    if order.limit_price is not None:
        body["price"] = _wire(order.limit_price)
    if order.stop_price is not None:
        body["stop"] = _wire(order.stop_price)
    return body


def _vendor_client_id(client_order_id: str) -> str:
    """SnapTrade's ``client_order_id`` is a UUID: Flint's own when it is one, else a UUIDv5."""
    if mapping.is_uuid(client_order_id):
        return client_order_id
    return str(uuid.uuid5(_CLIENT_ORDER_NAMESPACE, client_order_id))


def _wire(value: Decimal) -> float:
    """A Decimal as the JSON number SnapTrade takes, refusing any that a double would change."""
    number = float(value)
    if not value.is_finite() or Decimal(repr(number)) != value:
        raise ValueError(f"{value} cannot be sent exactly as a JSON number")
    return number
