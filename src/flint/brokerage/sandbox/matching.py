"""The sandbox's order rules, as pure functions: what a valid order is, whether placing it can
be paid for, and what an open order does at a price and an instant (fill, rest, trigger, cancel,
expire). Writing what they decide is `orders`; the rules in prose are the package's docstring."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Row

from flint.brokerage.sandbox.data import CENT, money
from flint.brokerage.sandbox.store import Terms
from flint.brokerage.types import (
    OrderAction,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from flint.kit.calendar import Session, local_date, next_trading_day, session, timezone_of
from flint.kit.symbols import normalize_symbol

MAX_DECIMALS = 8
MAX_QUANTITY = Decimal(10) ** 12
_STEP = Decimal(1).scaleb(-MAX_DECIMALS)
_LIMITED = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_STOPPED = (OrderType.STOP, OrderType.STOP_LIMIT)


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def _positive(provider: str, value: Decimal | None, what: str) -> Decimal:
    """A positive amount with at most `MAX_DECIMALS` places, in plain digits (1E+2 is 100)."""
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise OrderRejected(provider, f"{what} must be a positive number")
    if value > MAX_QUANTITY:
        raise OrderRejected(provider, f"{what} is too large")
    if value != value.quantize(_STEP):
        raise OrderRejected(provider, f"{what} has at most {MAX_DECIMALS} decimal places")
    if _exponent(value) > 0:
        return value.quantize(Decimal(1))
    if _exponent(value) < -MAX_DECIMALS:
        return value.quantize(_STEP)
    return value


@dataclass(frozen=True)
class Request:
    """An `OrderRequest` that passed `validate`: enums, a normalized symbol, plain amounts."""

    account_id: str
    client_order_id: str
    symbol: str
    action: OrderAction
    quantity: Decimal
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: Decimal | None
    stop_price: Decimal | None


@dataclass(frozen=True)
class Decision:
    status: OrderStatus
    triggered: bool
    price: Decimal | None = None
    value: Decimal | None = None
    reason: str | None = None
    at: datetime | None = None  # when a fill happened (a held market order: at the open)
    quantity: Decimal | None = None  # what fills now (a `partial` link's first fill: half)
    fee: Decimal = Decimal("0.00")  # the commission this fill pays


def validate(provider: str, order: OrderRequest) -> Request:
    try:
        symbol = normalize_symbol(order.symbol)
    except (ValueError, AttributeError):
        raise OrderRejected(provider, "invalid symbol") from None
    if not order.client_order_id or len(order.client_order_id) > 200:
        raise OrderRejected(provider, "client_order_id must be 1-200 characters")
    try:
        action = OrderAction(order.action)
        kind = OrderType(order.order_type)
        tif = TimeInForce(order.time_in_force)
    except ValueError as exc:
        raise OrderRejected(provider, str(exc)) from None
    try:
        quantity = _positive(provider, order.quantity, "quantity")
        limit = stop = None
        if kind in _LIMITED:
            limit = _positive(provider, order.limit_price, "limit_price")
        elif order.limit_price is not None:
            raise OrderRejected(provider, f"{kind.value} orders take no limit_price")
        if kind in _STOPPED:
            stop = _positive(provider, order.stop_price, "stop_price")
        elif order.stop_price is not None:
            raise OrderRejected(provider, f"{kind.value} orders take no stop_price")
    except InvalidOperation:
        raise OrderRejected(provider, "prices and quantities need at most 28 digits") from None
    return Request(
        order.account_id,
        order.client_order_id,
        symbol,
        action,
        quantity,
        kind,
        tif,
        limit,
        stop,
    )


@dataclass(frozen=True)
class HeldBack:
    """What an account's open orders hold back, as a broker holds it until they fill or end:
    cash for buys, units for sales."""

    cash: Decimal = Decimal("0.00")
    units: Mapping[str, Decimal] = field(default_factory=dict)


def held_back(working: Iterable[Row[Any]], prices: Mapping[str, Decimal], terms: Terms) -> HeldBack:
    """What ``working`` (open orders) hold back: a buy, its units left at its limit (its stop,
    for a stop order; ``prices``' price now, for a market order) and the commission its first
    fill pays; a sale, its units left. A market buy whose symbol has no price holds nothing."""
    cash = Decimal("0.00")
    units: dict[str, Decimal] = {}
    for order in working:
        left: Decimal = order.quantity - order.filled_quantity
        if order.action == OrderAction.SELL.value:
            units[order.symbol] = units.get(order.symbol, Decimal(0)) + left
            continue
        at = order.limit_price if order.limit_price is not None else order.stop_price
        at = at if at is not None else prices.get(order.symbol)
        if at is not None:
            cash += money(left * at) + (Decimal(0) if order.filled_quantity else terms.commission)
    return HeldBack(cash, units)


def precheck(
    provider: str, request: Request, price: Decimal, cash: Decimal, held: Decimal, terms: Terms
) -> None:
    if request.action is OrderAction.SELL:
        if request.quantity > held:
            raise OrderRejected(provider, "insufficient position")
        return
    at = request.limit_price if request.limit_price is not None else price
    if money(request.quantity * at) + terms.commission > cash:
        raise OrderRejected(provider, "insufficient buying power")


def _part(order: Row[Any], terms: Terms) -> Decimal:
    """What fills now: all that is left, or half of it on a `partial` link's first fill of a
    day or gtc order (whole units for an order of whole units; all of it when half would be
    nothing)."""
    left: Decimal = order.quantity - order.filled_quantity
    immediate = order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
    if not terms.partial or order.filled_quantity or immediate:
        return left
    step = Decimal(1) if left == left.to_integral_value() else _STEP
    half = (left / 2).quantize(step, rounding=ROUND_DOWN)
    return half if half > 0 else left


def order_session(now: datetime, calendar: str) -> Session:
    """The session an order placed ``now`` belongs to: the one under way, else the next one
    (today's when it has not opened yet)."""
    today = local_date(now, calendar)
    current = session(today, calendar)
    if current is not None and now < current.close:
        return current
    following = session(next_trading_day(today, calendar), calendar)
    assert following is not None
    return following


def session_of(day: date, calendar: str) -> Session:
    """The session of an order's ``trading_day`` (an order recorded on a day without one, by
    an older sandbox, belongs to the next session)."""
    found = session(day, calendar)
    if found is None:
        found = session(next_trading_day(day, calendar), calendar)
    assert found is not None
    return found


def open_now(now: datetime, calendar: str) -> bool:
    current = session(local_date(now, calendar), calendar)
    return current is not None and current.open <= now < current.close


_HELD = "held: "


def held_reason(opens: Session, calendar: str) -> str:
    local = opens.open.astimezone(timezone_of(calendar))
    return f"{_HELD}the market is closed; the order waits for the open ({local:%Y-%m-%d %H:%M %Z})"


def held(order: Row[Any]) -> bool:
    """An open order waiting for its market to open (its raw status says ``held``)."""
    reason = order.reason or ""
    return order.status == OrderStatus.SUBMITTED and reason.startswith(_HELD)


def expired(order: Row[Any], now: datetime, calendar: str) -> bool:
    """A day order that has not filled by its session's close."""
    if order.time_in_force != TimeInForce.DAY:
        return False
    return now >= session_of(order.trading_day, calendar).close


def decide(
    order: Row[Any],
    price: Decimal | None,
    now: datetime,
    cash: Decimal,
    held: Decimal,
    *,
    immediate: bool,
    calendar: str,
    terms: Terms,
) -> Decision:
    """What an open order does now, at ``price`` (None: no price to be had). A market order
    whose session has opened fills at ``price`` whenever it is evaluated: the caller gives the
    session's opening price for one that was held."""
    triggered = bool(order.triggered)
    waiting = OrderStatus(order.status)  # submitted, or partially filled
    kind = OrderType(order.order_type)
    tif = TimeInForce(order.time_in_force)
    opens = session_of(order.trading_day, calendar)
    if now < opens.open:
        if immediate and tif in (TimeInForce.IOC, TimeInForce.FOK):
            reason = f"{tif.value} order cannot wait for the market to open"
            return Decision(OrderStatus.CANCELED, triggered, reason=reason)
        return Decision(waiting, triggered, reason=held_reason(opens, calendar))
    if kind is not OrderType.MARKET:
        if expired(order, now, calendar):
            return Decision(OrderStatus.EXPIRED, triggered, reason="day order expired unfilled")
        if not open_now(now, calendar):
            return Decision(waiting, triggered)
    if price is None:
        return Decision(waiting, triggered)
    buy = order.action == OrderAction.BUY
    if kind in _STOPPED and not triggered:
        triggered = price >= order.stop_price if buy else price <= order.stop_price
    if kind is OrderType.MARKET:
        executable = True
    elif kind is OrderType.STOP:
        executable = triggered
    else:
        crosses = price <= order.limit_price if buy else price >= order.limit_price
        executable = crosses and (kind is OrderType.LIMIT or triggered)
    if not executable:
        if immediate and tif in (TimeInForce.IOC, TimeInForce.FOK):
            reason = f"{tif.value} order could not fill at once (price {price})"
            return Decision(OrderStatus.CANCELED, triggered, reason=reason)
        return Decision(waiting, triggered)
    quantity = _part(order, terms)
    value = money(quantity * price)
    fee = Decimal("0.00") if order.filled_quantity else terms.commission
    if buy and value < CENT:
        return Decision(OrderStatus.REJECTED, triggered, reason="order value is below $0.01")
    if buy and value + fee > cash:
        return Decision(OrderStatus.REJECTED, triggered, reason="insufficient buying power")
    if not buy and quantity > held:
        return Decision(OrderStatus.REJECTED, triggered, reason="insufficient position")
    if not buy and cash + value < fee:
        return Decision(OrderStatus.REJECTED, triggered, reason="the commission exceeds the cash")
    at = opens.open if kind is OrderType.MARKET and order.placed_at < opens.open else now
    done = quantity == order.quantity - order.filled_quantity
    status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
    return Decision(status, triggered, price, value, at=at, quantity=quantity, fee=fee)


def cancellation(order: Row[Any], now: datetime, calendar: str) -> Decision:
    """Canceling an open order: a day order already past its session expires instead."""
    if OrderType(order.order_type) is not OrderType.MARKET and expired(order, now, calendar):
        return Decision(
            OrderStatus.EXPIRED,
            bool(order.triggered),
            reason="day order expired unfilled",
        )
    return Decision(OrderStatus.CANCELED, bool(order.triggered), reason="canceled by request")
