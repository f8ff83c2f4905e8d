"""SnapTrade's checked orders on the local SnapTrade stub (a route factory of
:mod:`tests.stubs.snaptrade.app`): ``GET /symbols/{query}``, ``POST /trade/impact`` and ``POST
/trade/{tradeId}``, as passiv/snaptrade-sdks api.yaml describes them.

* ``GET /symbols/{query}`` (ReferenceData_getSymbolsByTicker, partner-signed, no user): the
  UniversalSymbol of a ticker the stub trades (:data:`tests.stubs.snaptrade.QUOTES`) or of its
  universal symbol id; anything else is the spec's 404.
* ``POST /trade/impact`` (Trading_getOrderImpact) takes a ManualTradeForm: ``account_id``,
  ``action``, ``universal_symbol_id``, ``order_type`` and ``time_in_force`` are required, as
  the spec says; ``units`` must be positive; ``price`` goes with Limit/StopLimit, ``stop`` with
  Stop/StopLimit. It answers ManualTradeAndImpact (the shape of the spec's example, the sample
  ``snaptrade_trade_impact.json``): the checked ``trade`` with a fresh ``id``, its ``price``
  (the quote for Market orders, else the limit, else the stop), one ``trade_impacts`` entry
  (``estimated_commission`` = :attr:`ImpactState.commission`, no forex fees,
  ``remaining_cash``) and ``combined_remaining_balance``. Refusals are the ones the stub's
  ``/trade/place`` makes: an unknown account (404), a read-only connection (403), an unknown
  symbol, a BUY costing more than the buying power or the ``insufficient_funds`` scenario (400).
* ``POST /trade/{tradeId}`` (Trading_placeOrder) places the checked trade with the stub's
  ``/trade/place`` rules (and its scenarios ``lost_response`` and ``lost_response_timeout``),
  once: the spec says a
  checked trade "expires after 5 minutes" and that "any order placed using an expired Trade
  will be rejected", and documents 400 "Failed to submit order to broker"; a trade id that was
  placed already, has expired, or is unknown (or another user's) gets that 400 with the stub's
  wording. The placed order is recorded as placed through SnapTrade (order detail knows it)
  with no client order id (none was sent), and answered as the spec's AccountOrderRecord.

The state is ``app.state.snaptrade.impact`` (:class:`tests.stubs.snaptrade.state.ImpactState`);
tests move its ``clock`` to expire checked trades.
"""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from starlette.routing import Route

from tests.stubs.snaptrade.app import Call, Result, Stub
from tests.stubs.snaptrade.common import (
    QUOTES,
    refusal,
    sample,
    sample_error,
    universal_symbol,
)
from tests.stubs.snaptrade.orders import check_order
from tests.stubs.snaptrade.state import Account, CheckedTrade, ImpactState, served

LIFETIME = timedelta(minutes=5)
"""How long a checked trade can be placed (the spec's "expires after 5 minutes")."""
REQUIRED = ("account_id", "action", "universal_symbol_id", "order_type", "time_in_force")


def _symbols() -> dict[str, dict[str, Any]]:
    """Every symbol the stub trades, by ticker and by universal symbol id."""
    found: dict[str, dict[str, Any]] = {}
    for ticker in QUOTES:
        universal = universal_symbol(ticker)
        found[ticker] = found[str(universal["id"])] = universal
    return found


def routes(stub: Stub) -> list[Route]:
    state, control = stub.state, stub.control
    impact = state.impact
    symbols = _symbols()

    async def symbol(call: Call) -> Result:
        found = symbols.get(call.request.path_params["query"])
        return (200, copy.deepcopy(found)) if found is not None else sample_error(404)

    async def check(call: Call) -> Result:
        assert call.user is not None
        form = call.body if isinstance(call.body, dict) else {}
        missing = [name for name in REQUIRED if form.get(name) in (None, "")]
        if missing:
            return refusal(400, f"Missing required fields: {', '.join(missing)}")
        account = state.account_of(call.user.user_id, str(form["account_id"]))
        if account is None:
            return sample_error(404)
        if state.connections[account.connection_id].type != "trade":
            return sample_error(403)
        universal = symbols.get(str(form["universal_symbol_id"]))
        if universal is None:
            detail = f"Symbol {form['universal_symbol_id']} could not be found at this brokerage"
            return refusal(400, detail)
        action, kind = form["action"], form["order_type"]
        units, limit, stop = form.get("units"), form.get("price"), form.get("stop")
        if action not in ("BUY", "SELL") or kind not in ("Market", "Limit", "Stop", "StopLimit"):
            return refusal(400, "action or order_type is not valid")
        if form["time_in_force"] not in ("Day", "GTC", "FOK", "IOC"):
            return refusal(400, "time_in_force is not valid")
        if not isinstance(units, Decimal | int) or isinstance(units, bool) or units <= 0:
            return refusal(400, "units must be a positive number")
        if (kind in ("Limit", "StopLimit")) != (limit is not None):
            return refusal(400, "price goes with (and only with) Limit and StopLimit")
        if (kind in ("Stop", "StopLimit")) != (stop is not None):
            return refusal(400, "stop goes with (and only with) Stop and StopLimit")
        ticker = str(universal["symbol"])
        price = Decimal(limit if limit is not None else stop if stop is not None else 0)
        price = price or QUOTES[ticker]
        units = Decimal(units)
        balance = account.balances[0]
        cash, buying_power = Decimal(balance["cash"]), Decimal(balance["buying_power"])
        cost = units * price + impact.commission
        if call.scenario == "insufficient_funds" or (action == "BUY" and cost > buying_power):
            detail = f"Insufficient buying power to place this order ({buying_power} available)"
            return refusal(400, detail)
        remaining = cash - cost if action == "BUY" else cash + units * price - impact.commission
        checked = CheckedTrade(
            str(uuid.uuid4()), call.user.user_id, account.id, ticker, dict(form), impact.clock()
        )
        impact.trades[checked.id] = checked
        return 200, _impact_body(checked, account, universal, units, price, remaining, impact)

    async def place_checked(call: Call) -> Result:
        assert call.user is not None
        trade_id = call.request.path_params["trade_id"]
        checked = impact.trades.get(trade_id)
        if checked is None or checked.user_id != call.user.user_id:
            return refusal(400, f"Failed to submit order to broker: no trade {trade_id}")
        if checked.placed:
            return refusal(
                400, f"Failed to submit order to broker: trade {trade_id} was already placed"
            )
        if impact.clock() - checked.created > LIFETIME:
            return refusal(400, f"Failed to submit order to broker: trade {trade_id} has expired")
        account = state.accounts[checked.account_id]
        form = checked.form
        order_form = {key: form.get(key) for key in ("action", "order_type", "units")}
        order_form.update(symbol=checked.symbol, price=form.get("price"), stop=form.get("stop"))
        refused = check_order(order_form, account, call.scenario)
        if not isinstance(refused, tuple):
            return refused  # not placed: the checked trade can still be
        action, kind, units = refused
        limit, stop = form.get("price"), form.get("stop")
        checked.placed = True
        order = state.record(
            account,
            checked.symbol,
            action,
            units,
            kind,
            Decimal(limit) if limit is not None else None,
            Decimal(stop) if stop is not None else None,
            str(form["time_in_force"]),
        )
        order["client_order_id"] = None  # placed through SnapTrade, with no client order id
        if call.scenario == "lost_response":
            return sample_error(500)
        if call.scenario == "lost_response_timeout":
            await control.pause()
        return 200, served(order)

    return [
        *stub.route("/symbols/{query}", symbol, "GET", user_scoped=False),
        *stub.route("/trade/impact", check, "POST"),
        *stub.route("/trade/{trade_id}", place_checked, "POST"),
    ]


def _impact_body(
    checked: CheckedTrade,
    account: Account,
    universal: dict[str, Any],
    units: Decimal,
    price: Decimal,
    remaining: Decimal,
    impact: ImpactState,
) -> dict[str, Any]:
    body = sample("snaptrade_trade_impact.json")
    currency = universal["currency"]
    form = checked.form
    body["trade"].update(
        id=checked.id,
        account=account.id,
        order_type=form["order_type"],
        time_in_force=form["time_in_force"],
        action=form["action"],
        units=units,
        price=price,
    )
    body["trade"]["symbol"].update(
        universal_symbol_id=universal["id"],
        currency=currency,
        description=universal.get("description"),
        symbol=universal["symbol"],
        brokerage_symbol_id=universal["id"],
    )
    body["trade_impacts"] = [
        {
            "account": account.id,
            "currency": currency["id"],
            "remaining_cash": remaining,
            "estimated_commission": impact.commission,
            "forex_fees": Decimal(0),
        }
    ]
    balance = body["combined_remaining_balance"]
    balance["account"].update(
        id=account.id, name=account.raw.get("name"), number=account.raw.get("number")
    )
    balance.update(currency=currency, cash=remaining)
    return body
