"""SnapTrade orders: placing one at most once, finding it again, reading and cancelling it.

`place_order` is ``POST /trade/place`` (Market/Limit/Stop/StopLimit, Day/GTC/FOK/IOC,
``units``, ``price``/``stop``, ``client_order_id``), sent once (``retry=False``): a timeout,
5xx or 429 raises and the caller asks `find_order` before anything else. A 4xx is
`OrderRejected` with SnapTrade's message (insufficient funds, unknown symbol, read-only
connection), except a 401 and code 1076 (Flint's API key or the link, see the client).
SnapTrade wants a UUID as ``client_order_id``; a Flint id that is not one is sent as a UUIDv5
of it. SnapTrade passes it on to the broker but does not enforce it, and its order record
(AccountOrderRecord) does not carry it, so nothing can be found by it. Instead:

* `find_order` (only asked after a placement whose answer was lost) reads
  ``GET /accounts/{id}/recentOrders?only_executed=false``, which is real-time and covers the
  last 24 hours (``/orders`` may be a day-old cache, and answers 501 at brokerages that do not
  list orders). The candidates are the orders with the same symbol, side and quantity placed
  since the trade was created; each is checked with ``POST /accounts/{id}/orders/details``,
  which knows only orders placed through SnapTrade, so an order the user placed by hand in the
  brokerage's app is never taken for Flint's. No candidate: not placed (None). Exactly one
  placed through SnapTrade: that is the order. Anything else (several, recent orders not
  available: 501 or 403 feature not enabled, a full page, a trade older than the window) raises
  `OrderUnconfirmed`: the caller must not place it again.
* `get_order` is ``POST /accounts/{id}/orders/details`` (real-time, any brokerage), by the
  brokerage order id Flint recorded when the order was placed or found; `cancel_order` is
  ``POST /accounts/{id}/trading/cancel`` and returns the order as it then stands (a cancel
  SnapTrade refuses with a 400, say for an order already filled, still returns the order).
* ``units`` and ``total_quantity`` may be null (the spec): an order without a total is
  matched and reported by the sum of its filled, open and canceled quantities.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
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
    OrderUnconfirmed,
    TimeInForce,
)
from flint.kit.vendor_errors import ProviderGarbage

log = structlog.get_logger(__name__)

PLACED_SKEW = timedelta(minutes=2)
"""Clock difference allowed between Flint and the broker when matching an order by when it
was placed."""
RECENT_WINDOW = timedelta(hours=23)
"""How old a trade may be for ``recentOrders`` (24 hours) to still show its order."""
RECENT_PAGE = 100
"""``recentOrders`` answers one page of at most this many orders (the spec)."""

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


class OrderDesk:
    """The orders of one provider."""

    def __init__(self, http: SnapTradeClient) -> None:
        self._http = http

    async def place(self, user: tuple[str, str], order: OrderRequest) -> Order:
        body = _order_body(order)
        response = await self._http.call("POST", "/trade/place", user=user, body=body, retry=False)
        if not response.is_success:
            if response.status_code == httpx.codes.UNAUTHORIZED or self._http.partner_refused(
                response
            ):
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
        if request is None or request.not_before is None:
            raise OrderUnconfirmed(NAME, "SnapTrade's orders cannot be matched without the order")
        since = request.not_before
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        if datetime.now(UTC) - since > RECENT_WINDOW:
            raise OrderUnconfirmed(NAME, "the order is older than SnapTrade's recent orders")
        records = await self._recent(user, account_id)
        candidates = [
            order for order in _orders(records) if _looks_sent(order, request, since - PLACED_SKEW)
        ]
        placed = [o for o in candidates if await self._through_snaptrade(user, account_id, o)]
        if len(placed) == 1:
            return _with_client_id(placed[0], client_order_id)
        if not placed and len(records) < RECENT_PAGE:
            return None
        ids = tuple(o.provider_order_id for o in placed)
        log.warning(
            "snaptrade_order_unconfirmed", account_id=account_id, provider_order_ids=list(ids)
        )
        raise OrderUnconfirmed(
            NAME,
            f"{len(placed)} orders at SnapTrade could be this one"
            if placed
            else "SnapTrade's recent orders are too many to be sure",
            ids,
        )

    async def get(self, user: tuple[str, str], account_id: str, provider_order_id: str) -> Order:
        order = await self._detail(user, account_id, provider_order_id)
        if order is None:
            raise AccountProviderError(
                NAME, f"SnapTrade knows no order {provider_order_id} placed through it"
            )
        return order

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

    async def _recent(self, user: tuple[str, str], account_id: str) -> list[dict[str, Any]]:
        response = await self._http.call(
            "GET",
            f"/accounts/{seg(account_id)}/recentOrders",
            user=user,
            params={"only_executed": "false"},
        )
        if response.status_code == httpx.codes.NOT_IMPLEMENTED or self._http.feature_refused(
            response
        ):
            detail, _ = self._http.error(response)
            raise OrderUnconfirmed(NAME, f"SnapTrade cannot list this account's orders ({detail})")
        body = self._http.ok(response, "the recent orders")
        if not isinstance(body, dict):
            raise ProviderGarbage(NAME, "the recent orders are not an object")
        return mapping.objects(body.get("orders", []), "the recent orders")

    async def _detail(
        self, user: tuple[str, str], account_id: str, provider_order_id: str
    ) -> Order | None:
        """The order, when SnapTrade has it as placed through SnapTrade; else None."""
        response = await self._http.call(
            "POST",
            f"/accounts/{seg(account_id)}/orders/details",
            user=user,
            body={"brokerage_order_id": provider_order_id},
            retry=True,  # a read: safe to send again
        )
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        raw = self._http.ok(response, "the order")
        if not isinstance(raw, dict):
            raise ProviderGarbage(NAME, "the order is not an object")
        return mapping.order(raw, None)

    async def _through_snaptrade(
        self, user: tuple[str, str], account_id: str, order: Order
    ) -> bool:
        return await self._detail(user, account_id, order.provider_order_id) is not None


def _orders(records: list[dict[str, Any]]) -> list[Order]:
    out = []
    for raw in records:
        try:
            out.append(mapping.order(raw, None))
        except ProviderGarbage:
            log.warning("snaptrade_order_unreadable", order_id=raw.get("brokerage_order_id"))
    return out


def _looks_sent(order: Order, request: OrderRequest, since: datetime) -> bool:
    return (
        order.symbol.upper() == request.symbol.upper()
        and order.action is request.action
        and (order.quantity == request.quantity or mapping.QUANTITY_UNKNOWN in order.extra)
        and (order.placed_at is None or order.placed_at >= since)
    )


def _with_client_id(order: Order, client_order_id: str) -> Order:
    return replace(order, client_order_id=client_order_id)


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
