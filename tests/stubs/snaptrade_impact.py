"""SnapTrade's checked orders on the local SnapTrade stub (`tests.stubs.snaptrade` registers
these routes): ``GET /symbols/{query}``, ``POST /trade/impact`` and ``POST /trade/{tradeId}``,
as passiv/snaptrade-sdks api.yaml describes them.

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
* ``POST /trade/{tradeId}`` (Trading_placeOrder) places the checked trade through the stub's
  ``/trade/place`` rules (so scenarios such as ``lost_response`` apply), once: the spec says a
  checked trade "expires after 5 minutes" and that "any order placed using an expired Trade
  will be rejected", and documents 400 "Failed to submit order to broker"; a trade id that was
  placed already, has expired, or is unknown (or another user's) gets that 400 with the stub's
  wording. The placed order's record has no ``client_order_id``: none was sent, and the spec's
  AccountOrderRecord has no such field.

The state is ``app.state.snaptrade_impact`` (:class:`ImpactState`); tests move its ``clock``
to expire checked trades.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.routing import Route

from tests.stubs import snaptrade as base

LIFETIME = timedelta(minutes=5)
"""How long a checked trade can be placed (the spec's "expires after 5 minutes")."""
REQUIRED = ("account_id", "action", "universal_symbol_id", "order_type", "time_in_force")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CheckedTrade:
    id: str
    user_id: str
    account_id: str
    symbol: str
    form: dict[str, Any]
    created: datetime
    placed: bool = False


@dataclass
class ImpactState:
    trades: dict[str, CheckedTrade] = field(default_factory=dict)
    commission: Decimal = Decimal("0")
    """The estimated commission of every checked trade."""
    clock: Callable[[], datetime] = _now

    def placed(self) -> list[CheckedTrade]:
        return [t for t in self.trades.values() if t.placed]


def _symbols() -> dict[str, dict[str, Any]]:
    """Every symbol the stub trades, by ticker and by universal symbol id."""
    found: dict[str, dict[str, Any]] = {}
    for ticker in base.QUOTES:
        universal = base._universal_symbol(ticker)
        found[ticker] = found[str(universal["id"])] = universal
    return found


def routes(
    api: str,
    endpoint: Callable[..., Any],
    state: base.SnapTradeState,
    place: Callable[[base.Call], Any],
) -> tuple[list[Route], ImpactState]:
    """The three routes, wrapped by the stub's ``endpoint`` (signatures, users, scenarios), and
    their state; ``place`` is the stub's ``/trade/place`` handler."""
    impact = ImpactState()
    symbols = _symbols()

    async def symbol(call: base.Call) -> Any:
        found = symbols.get(call.request.path_params["query"])
        return (200, copy.deepcopy(found)) if found is not None else base._sample_error(404)

    async def check(call: base.Call) -> Any:
        assert call.user is not None
        form = call.body if isinstance(call.body, dict) else {}
        missing = [name for name in REQUIRED if form.get(name) in (None, "")]
        if missing:
            return base._refusal(400, f"Missing required fields: {', '.join(missing)}")
        account = state.account_of(call.user.user_id, str(form["account_id"]))
        if account is None:
            return base._sample_error(404)
        if state.connections[account.connection_id].type != "trade":
            return base._sample_error(403)
        universal = symbols.get(str(form["universal_symbol_id"]))
        if universal is None:
            detail = f"Symbol {form['universal_symbol_id']} could not be found at this brokerage"
            return base._refusal(400, detail)
        action, kind = form["action"], form["order_type"]
        units, limit, stop = form.get("units"), form.get("price"), form.get("stop")
        if action not in ("BUY", "SELL") or kind not in ("Market", "Limit", "Stop", "StopLimit"):
            return base._refusal(400, "action or order_type is not valid")
        if form["time_in_force"] not in ("Day", "GTC", "FOK", "IOC"):
            return base._refusal(400, "time_in_force is not valid")
        if not isinstance(units, Decimal | int) or isinstance(units, bool) or units <= 0:
            return base._refusal(400, "units must be a positive number")
        if (kind in ("Limit", "StopLimit")) != (limit is not None):
            return base._refusal(400, "price goes with (and only with) Limit and StopLimit")
        if (kind in ("Stop", "StopLimit")) != (stop is not None):
            return base._refusal(400, "stop goes with (and only with) Stop and StopLimit")
        ticker = str(universal["symbol"])
        price = Decimal(limit if limit is not None else stop if stop is not None else 0)
        price = price or base.QUOTES[ticker]
        units = Decimal(units)
        balance = account.balances[0]
        cash, buying_power = Decimal(balance["cash"]), Decimal(balance["buying_power"])
        cost = units * price + impact.commission
        if call.scenario == "insufficient_funds" or (action == "BUY" and cost > buying_power):
            detail = f"Insufficient buying power to place this order ({buying_power} available)"
            return base._refusal(400, detail)
        remaining = cash - cost if action == "BUY" else cash + units * price - impact.commission
        checked = CheckedTrade(
            str(uuid.uuid4()), call.user.user_id, account.id, ticker, dict(form), impact.clock()
        )
        impact.trades[checked.id] = checked
        return 200, _impact_body(checked, account, universal, units, price, remaining, impact)

    async def place_checked(call: base.Call) -> Any:
        assert call.user is not None
        trade_id = call.request.path_params["trade_id"]
        checked = impact.trades.get(trade_id)
        if checked is None or checked.user_id != call.user.user_id:
            return base._refusal(400, f"Failed to submit order to broker: no trade {trade_id}")
        if checked.placed:
            return base._refusal(
                400, f"Failed to submit order to broker: trade {trade_id} was already placed"
            )
        if impact.clock() - checked.created > LIFETIME:
            return base._refusal(
                400, f"Failed to submit order to broker: trade {trade_id} has expired"
            )
        account = state.accounts[checked.account_id]
        form = checked.form
        order_form = {
            key: form.get(key)
            for key in ("account_id", "action", "order_type", "time_in_force", "units")
        }
        order_form.update(symbol=checked.symbol, price=form.get("price"), stop=form.get("stop"))
        before = len(account.orders)
        checked.placed = True  # taken now: a second call while this one runs is refused
        placing = asyncio.ensure_future(
            place(base.Call(call.request, order_form, call.user, call.scenario))
        )
        await asyncio.sleep(0)  # the order is recorded before `place` first waits
        for record in account.orders[before:]:
            record.pop("client_order_id", None)  # none was sent
        answer = await placing
        if len(account.orders) == before:  # refused: the checked trade was not placed
            checked.placed = False
        elif isinstance(answer, tuple):
            status, record = answer
            answer = status, {k: v for k, v in record.items() if k != "client_order_id"}
        return answer

    found = [
        Route(api + "/symbols/{query}", endpoint(symbol, user_scoped=False), methods=["GET"]),
        Route(api + "/trade/impact", endpoint(check), methods=["POST"]),
        Route(api + "/trade/{trade_id}", endpoint(place_checked), methods=["POST"]),
    ]
    return found, impact


def _impact_body(
    checked: CheckedTrade,
    account: base.Account,
    universal: dict[str, Any],
    units: Decimal,
    price: Decimal,
    remaining: Decimal,
    impact: ImpactState,
) -> dict[str, Any]:
    body = base.sample("snaptrade_trade_impact.json")
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
