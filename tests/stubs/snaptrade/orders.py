"""The stub's orders: listings (cached daily, or 501 where the brokerage has none), recent
orders, order detail, placing and cancelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.stubs.snaptrade.app import Call, Result, Stub
from tests.stubs.snaptrade.common import (
    FEATURE_NOT_ENABLED,
    QUOTES,
    RECENT_PAGE,
    iso,
    refusal,
    sample,
    sample_error,
)
from tests.stubs.snaptrade.data import ACCOUNT
from tests.stubs.snaptrade.state import Account, served


def _not_listed(what: str, broker: str) -> JSONResponse:
    """The spec's 501NotImplementedResponse."""
    text = f"The {what} endpoint is not yet implemented for brokerage {broker.lower()}"
    return JSONResponse({"error": text}, status_code=501)


def routes(stub: Stub) -> list[Route]:
    state, control = stub.state, stub.control

    def _lists(account: Account) -> bool:
        return state.connections[account.connection_id].lists_orders

    def _broker(account: Account) -> str:
        return state.connections[account.connection_id].broker

    async def orders(call: Call) -> Result:
        account = call.account
        assert account is not None
        if not _lists(account):
            return _not_listed("orders", _broker(account))
        params = call.request.query_params
        state_filter = params.get("state", "all")
        days = min(int(params.get("days", "30")), 90)
        since = datetime.now(UTC) - timedelta(days=days)
        listed = []
        for order in account.orders if state.realtime else account.listed:
            if datetime.fromisoformat(order["time_placed"]) < since:
                continue
            if state_filter == "open" and order["status"] != "PENDING":
                continue
            if state_filter == "executed" and order["status"] != "EXECUTED":
                continue
            listed.append(served(order))
        return 200, listed

    async def recent(call: Call) -> Result:
        account = call.account
        assert account is not None
        if not state.recent_orders:
            return JSONResponse(FEATURE_NOT_ENABLED, status_code=403)
        if not _lists(account):
            return _not_listed("recent orders", _broker(account))
        only_executed = call.request.query_params.get("only_executed", "true") != "false"
        since = datetime.now(UTC) - timedelta(hours=24)
        found = [
            served(o)
            for o in account.orders
            if datetime.fromisoformat(o["time_placed"]) >= since
            and (o["status"] == "EXECUTED" or not only_executed)
        ]
        return 200, {"orders": found[-RECENT_PAGE:]}

    async def detail(call: Call) -> Result:
        account = call.account
        assert account is not None
        wanted = call.body.get("brokerage_order_id") if isinstance(call.body, dict) else None
        for order in account.orders:
            # Only orders placed through SnapTrade (the spec's words).
            if order["brokerage_order_id"] == wanted and "client_order_id" in order:
                return 200, served(order)
        return sample_error(404)

    async def place(call: Call) -> Result:
        assert call.user is not None
        body = call.body if isinstance(call.body, dict) else {}
        account = state.account_of(call.user.user_id, str(body.get("account_id", "")))
        if account is None:
            return sample_error(404)
        if state.connections[account.connection_id].type != "trade":
            return sample_error(403)
        checked = check_order(body, account, call.scenario)
        if not isinstance(checked, tuple):
            return checked
        action, kind, units = checked
        limit, stop = body.get("price"), body.get("stop")
        order = state.record(
            account,
            str(body["symbol"]),
            action,
            units,
            kind,
            Decimal(limit) if limit is not None else None,
            Decimal(stop) if stop is not None else None,
            str(body.get("time_in_force", "Day")),
        )
        order["client_order_id"] = body.get("client_order_id")  # what was sent; never served
        if call.scenario == "lost_response":
            return sample_error(500)
        if call.scenario == "lost_response_timeout":
            await control.pause()
        return 200, served(order)

    async def cancel(call: Call) -> Result:
        assert call.account is not None
        wanted = call.body.get("brokerage_order_id") if isinstance(call.body, dict) else None
        order = next((o for o in call.account.orders if o["brokerage_order_id"] == wanted), None)
        if order is None:
            return refusal(400, f"Order {wanted} could not be found")
        if order["status"] != "PENDING":
            return refusal(400, f"Order {wanted} is {order['status']} and cannot be cancelled")
        order.update(
            status="CANCELED",
            canceled_quantity=order["open_quantity"],
            open_quantity="0",
            time_updated=iso(datetime.now(UTC)),
        )
        answer = sample("snaptrade_cancel_order.json")
        answer["brokerage_order_id"] = wanted
        return 200, answer

    return [
        *stub.route(ACCOUNT + "/orders", orders, "GET", account=True),
        *stub.route(ACCOUNT + "/recentOrders", recent, "GET", account=True),
        *stub.route(ACCOUNT + "/orders/details", detail, "POST", account=True),
        *stub.route(ACCOUNT + "/trading/cancel", cancel, "POST", account=True),
        *stub.route("/trade/place", place, "POST"),
    ]


def check_order(
    body: dict[str, Any], account: Account, scenario: str
) -> tuple[str, str, Decimal] | JSONResponse:
    symbol = str(body.get("symbol", ""))
    if symbol not in QUOTES:
        return refusal(400, f"Symbol {symbol} could not be found at this brokerage")
    action, kind = body.get("action"), body.get("order_type")
    units, limit, stop = body.get("units"), body.get("price"), body.get("stop")
    if action not in ("BUY", "SELL") or kind not in ("Market", "Limit", "Stop", "StopLimit"):
        return refusal(400, "action or order_type is not valid")
    if not isinstance(units, Decimal | int) or units <= 0:
        return refusal(400, "units must be a positive number")
    if kind in ("Limit", "StopLimit") and limit is None:
        return refusal(400, "price is required for Limit and StopLimit orders")
    if kind in ("Stop", "StopLimit") and stop is None:
        return refusal(400, "stop is required for Stop and StopLimit orders")
    quantity = Decimal(units)
    price = QUOTES[symbol] if kind == "Market" else Decimal(str(limit or stop))
    buying_power = Decimal(account.balances[0]["buying_power"])
    if scenario == "insufficient_funds" or (action == "BUY" and quantity * price > buying_power):
        detail = f"Insufficient buying power to place this order ({buying_power} available)"
        return refusal(400, detail)
    return str(action), str(kind), quantity
