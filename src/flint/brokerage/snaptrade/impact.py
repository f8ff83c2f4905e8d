"""SnapTrade's checked orders: ``POST /trade/impact`` to preview, ``POST /trade/{tradeId}`` to
place exactly the trade that was checked.

`preview` looks the ticker up (``GET /symbols/{ticker}``, partner-signed: ``/trade/impact``
takes a ``universal_symbol_id``, not a ticker; ids are kept in memory), then sends the
ManualTradeForm (``account_id``, ``action``, ``universal_symbol_id``, ``order_type``,
``time_in_force``, ``units``, ``price`` for limits, ``stop`` for stops) and reads
ManualTradeAndImpact: the ``trade`` it echoes (its ``id`` is what places it; an echo that is
not the order asked for is `ProviderGarbage`), ``trade.price`` as the estimated price,
``trade_impacts[0]`` for the commission (``estimated_commission``; ``forex_fees`` becomes a
warning) and ``combined_remaining_balance.cash`` (or ``remaining_cash``) as what is left. The
spec says the trade "expires after 5 minutes" and that "any order placed using an expired
Trade will be rejected": ``expires_at`` is five minutes from when the impact was asked for,
less :data:`PLACEMENT_MARGIN` for the trip through Flint's queue.
An impact is safe to ask again (nothing is placed), so it is retried like a GET.

`place` is ``POST /trade/{tradeId}`` with no body (ValidatedTradeBody's ``wait_to_confirm``
defaults to true), sent once: a timeout or 5xx raises. SnapTrade places a checked trade only
once and refuses an expired one, both with a 400 ("Failed to submit order to broker"):
`OrderRejected` with its message, as is any other 4xx but a 401 and code 1076 (the user or
Flint's key, see the client). A placement whose answer is lost is never sent again: the worker
asks `find_order` (``recentOrders``, :mod:`.orders`), and the trade stops ``unknown`` when
SnapTrade cannot tell.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from flint.brokerage.snaptrade import mapping
from flint.brokerage.snaptrade.client import NAME, SnapTradeClient, seg
from flint.brokerage.snaptrade.orders import _order_body
from flint.brokerage.types import (
    Order,
    OrderAction,
    OrderPreview,
    OrderRejected,
    OrderRequest,
)
from flint.kit.vendor_errors import ProviderGarbage

IMPACT_LIFETIME = timedelta(minutes=5)
"""How long SnapTrade keeps a checked trade (the spec: "expires after 5 minutes")."""
PLACEMENT_MARGIN = timedelta(seconds=30)
"""Taken off that lifetime: a trade executed just before ``expires_at`` still has this long to
get through Flint's queue to SnapTrade."""
_SYMBOL_MEMORY = 2000


class ImpactDesk:
    """Checked orders for one provider, with the universal symbol ids it has looked up."""

    def __init__(self, http: SnapTradeClient) -> None:
        self._http = http
        self._symbols: dict[str, str] = {}

    async def preview(self, user: tuple[str, str], order: OrderRequest) -> OrderPreview:
        body = _order_body(order)
        del body["symbol"], body["client_order_id"]
        body["universal_symbol_id"] = await self._symbol_id(order.symbol)
        asked_at = datetime.now(UTC)
        response = await self._http.call("POST", "/trade/impact", user=user, body=body, retry=True)
        raw = self._answer(response, "the order impact")
        return _preview(raw, order, asked_at + IMPACT_LIFETIME - PLACEMENT_MARGIN)

    async def place(self, user: tuple[str, str], order: OrderRequest) -> Order:
        assert order.preview_id is not None
        if not mapping.is_uuid(order.preview_id):
            raise OrderRejected(NAME, "that is not a SnapTrade trade id")
        response = await self._http.call(
            "POST", f"/trade/{seg(order.preview_id)}", user=user, retry=False
        )
        raw = self._answer(response, "the placed order")
        return mapping.order(raw, order.client_order_id)

    async def _symbol_id(self, symbol: str) -> str:
        key = symbol.upper()
        known = self._symbols.get(key)
        if known is not None:
            return known
        response = await self._http.call("GET", f"/symbols/{seg(key)}", retry=True)
        if response.status_code == httpx.codes.NOT_FOUND:
            raise OrderRejected(NAME, f"SnapTrade does not know the symbol {symbol}")
        raw = self._http.ok(response, "the symbol")
        if not isinstance(raw, dict):
            raise ProviderGarbage(NAME, "the symbol is not an object")
        found = mapping.required_str(raw, "id", "the symbol")
        if not mapping.is_uuid(found):
            raise ProviderGarbage(NAME, "the symbol's id is not a UUID")
        if len(self._symbols) >= _SYMBOL_MEMORY:
            del self._symbols[next(iter(self._symbols))]
        self._symbols[key] = found
        return found

    def _answer(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if not response.is_success:
            if response.status_code == httpx.codes.UNAUTHORIZED or self._http.partner_refused(
                response
            ):
                self._http.refused(response)
            detail, _ = self._http.error(response)
            raise OrderRejected(NAME, detail)
        raw = self._http.parse(response, what)
        if not isinstance(raw, dict):
            raise ProviderGarbage(NAME, f"{what} is not an object")
        return raw


def _preview(raw: dict[str, Any], order: OrderRequest, expires_at: datetime) -> OrderPreview:
    trade = raw.get("trade")
    if not isinstance(trade, dict):
        raise ProviderGarbage(NAME, "the order impact has no trade")
    trade_id = mapping.required_str(trade, "id", "the checked trade")
    if not mapping.is_uuid(trade_id):
        raise ProviderGarbage(NAME, "the checked trade's id is not a UUID")
    action = "BUY" if order.action is OrderAction.BUY else "SELL"
    units = mapping.opt_dec(trade.get("units"), "the checked trade's units")
    if trade.get("account") not in (None, order.account_id) or trade.get("action") not in (
        None,
        action,
    ):
        raise ProviderGarbage(NAME, "the checked trade is not the order that was asked for")
    if units is not None and units != order.quantity:
        raise ProviderGarbage(NAME, "the checked trade is not the quantity that was asked for")
    price = mapping.opt_dec(trade.get("price"), "the checked trade's price")
    impacts = mapping.objects(raw.get("trade_impacts") or [], "the trade impacts")
    impact = impacts[0] if impacts else {}
    commission = mapping.opt_dec(impact.get("estimated_commission"), "the commission")
    forex = mapping.opt_dec(impact.get("forex_fees"), "the foreign exchange fees")
    balance = raw.get("combined_remaining_balance")
    left = mapping.opt_dec(
        balance.get("cash") if isinstance(balance, dict) else None, "the remaining cash"
    )
    if left is None:
        left = mapping.opt_dec(impact.get("remaining_cash"), "the remaining cash")
    warnings: list[str] = []
    if forex:
        warnings.append(f"SnapTrade estimates foreign exchange fees of {forex} on top.")
    if left is not None and left < 0:
        warnings.append(
            f"The account would be left with {left}: the brokerage may refuse the order."
        )
    return OrderPreview(
        estimated_price=price,
        estimated_value=None if price is None else order.quantity * price,
        commission=commission if commission is not None else Decimal(0),
        buying_power_after=left,
        warnings=warnings,
        provider_ref=trade_id,
        expires_at=expires_at,
    )
