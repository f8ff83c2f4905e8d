"""The sandbox's order previews: what placing an order would do, by the same rules placing
follows (`matching`), without writing anything.

The estimated price is the limit price for limit and stop-limit orders, the stop price for stop
orders (they fill like a market order once triggered) and the current price for market orders;
the value is ``money(quantity * price)``; there is no commission; what is left is the cash
after the fill. An order placing would refuse (buying power, position, an unknown or untradable
symbol) is refused the same way (`OrderRejected`); an order that would not fill at once says so
in its warnings.
"""

from __future__ import annotations

from decimal import Decimal

from flint.brokerage.sandbox.data import CENT, money
from flint.brokerage.sandbox.matching import Request, precheck
from flint.brokerage.types import OrderAction, OrderPreview, OrderRejected, OrderType, TimeInForce


def estimate(
    provider: str, request: Request, price: Decimal, cash: Decimal, held: Decimal
) -> OrderPreview:
    """``request`` at the current ``price`` in an account with ``cash`` holding ``held``."""
    precheck(provider, request, price, cash, held)
    buy = request.action is OrderAction.BUY
    if request.limit_price is not None:
        at = request.limit_price
    elif request.stop_price is not None:
        at = request.stop_price
    else:
        at = price
    value = money(request.quantity * at)
    if buy and value < CENT:
        raise OrderRejected(provider, "order value is below $0.01")
    warnings = _warnings(request, price)
    left = cash - value if buy else cash + value
    return OrderPreview(
        estimated_price=at,
        estimated_value=value,
        commission=Decimal("0.00"),
        buying_power_after=left,
        warnings=warnings,
    )


def _warnings(request: Request, price: Decimal) -> list[str]:
    """Why the order would not fill at once at ``price`` (empty when it would)."""
    buy = request.action is OrderAction.BUY
    out: list[str] = []
    stop = request.stop_price
    if stop is not None and (price < stop if buy else price > stop):
        move = "rises" if buy else "falls"
        out.append(
            f"The stop {stop} is not reached (the price is {price}): nothing happens until the "
            f"price {move} to it."
        )
    limit = request.limit_price
    if limit is not None and (price > limit if buy else price < limit):
        where = "at or below" if buy else "at or above"
        out.append(
            f"The limit {limit} is not reached (the price is {price}): the order fills only "
            f"{where} it."
        )
    if request.order_type is not OrderType.MARKET and out:
        tif = request.time_in_force
        if tif in (TimeInForce.IOC, TimeInForce.FOK):
            out.append(f"A {tif.value} order that cannot fill at once is canceled at once.")
        elif tif is TimeInForce.DAY:
            out.append("A day order not filled today expires.")
    return out
