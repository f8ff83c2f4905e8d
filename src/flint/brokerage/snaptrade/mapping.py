"""SnapTrade's JSON as Flint's types: accounts, balances, holdings, activities and orders.

* Accounts: ``id``, ``name`` (else the institution's), ``institution_name``, ``mask`` = the last
  four characters of ``number``, ``currency`` = ``balance.total.currency`` (USD when SnapTrade
  gives no total). CRYPTO when the account's raw type, meta type or category says "crypto" or
  the institution is a known crypto exchange, else BROKERAGE. ``can_trade`` when the connection
  is trade-enabled (``type`` ``trade``), not disabled, its brokerage allows trading, and the
  account is not closed.
* Balances: ``current`` = ``balance.total.amount`` (cash plus positions; summed from the cash
  balance and the holdings when SnapTrade gives no total), ``cash`` and ``buying_power`` from
  the balance in the account's currency, ``available`` = that cash.
* Holdings: ``GET /accounts/{id}/positions/all`` (string values, ``instrument``; the old
  ``/positions`` is gone from the spec). ``cost_basis`` is the total: the per-unit
  ``cost_basis`` times the units. ``units`` is nullable: a position without them counts the
  units of its tax lots, or is left out (logged) when those are not given either.
* Transactions: ``GET /accounts/{id}/activities`` (``startDate`` = ``since``), paged with
  ``offset``/``limit`` until ``pagination.total``. SnapTrade signs ``amount`` from the holder's
  side, but brokerages are not all consistent, so for the kinds whose direction is certain the
  sign is forced (BUY, WITHDRAWAL, FEE, TAX out; SELL, DIVIDEND, CONTRIBUTION, INTEREST, ...
  in). ``date`` is ``trade_date`` (else ``settlement_date``); newest first.
* Order statuses: EXECUTED filled; PARTIALLY_EXECUTED/PARTIAL partially filled; REJECTED and
  FAILED rejected; CANCELED and PARTIAL_CANCELED canceled; EXPIRED expired; every other known
  status (PENDING, ACCEPTED, QUEUED, TRIGGERED, ACTIVATED, CANCEL_PENDING, REPLACE_PENDING,
  REPLACED, STOPPED, SUSPENDED, PENDING_RISK_REVIEW, CONTINGENT_ORDER, NONE) submitted; an
  unknown one submitted too (logged), as it is not known to be final.
* Orders: ``total_quantity`` (and the other quantities) are nullable: without a total the
  quantity is the sum of the filled, open and canceled ones; with none of them the order is
  marked :data:`QUANTITY_UNKNOWN` (it matches any quantity when Flint looks for its order).
* Money is Decimal from the JSON text (numbers and numeric strings alike), never via float.

Bodies that lack required fields are `ProviderGarbage`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog

from flint.brokerage.snaptrade.client import NAME
from flint.brokerage.types import (
    MAX_NUMBER,
    AccountType,
    Holding,
    Order,
    OrderAction,
    OrderStatus,
    ProviderAccount,
    Transaction,
)
from flint.kit.schema import DECIMAL_TEXT
from flint.kit.vendor_errors import ProviderGarbage

log = structlog.get_logger(__name__)

_STATUSES = {
    "EXECUTED": OrderStatus.FILLED,
    "PARTIALLY_EXECUTED": OrderStatus.PARTIALLY_FILLED,
    "PARTIAL": OrderStatus.PARTIALLY_FILLED,
    "REJECTED": OrderStatus.REJECTED,
    "FAILED": OrderStatus.REJECTED,
    "CANCELED": OrderStatus.CANCELED,
    "CANCELLED": OrderStatus.CANCELED,
    "PARTIAL_CANCELED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
    **dict.fromkeys(
        (
            "NONE",
            "PENDING",
            "ACCEPTED",
            "QUEUED",
            "TRIGGERED",
            "ACTIVATED",
            "CANCEL_PENDING",
            "REPLACE_PENDING",
            "REPLACED",
            "STOPPED",
            "SUSPENDED",
            "PENDING_RISK_REVIEW",
            "CONTINGENT_ORDER",
        ),
        OrderStatus.SUBMITTED,
    ),
}
_INFLOWS = frozenset(
    {"SELL", "DIVIDEND", "CONTRIBUTION", "DEPOSIT", "INTEREST", "REBATE", "GOV_GRANT"}
)
_OUTFLOWS = frozenset({"BUY", "WITHDRAWAL", "FEE", "TAX"})
_KINDS = {
    "BUY": "buy",
    "SELL": "sell",
    "DIVIDEND": "dividend",
    "CONTRIBUTION": "deposit",
    "DEPOSIT": "deposit",
    "WITHDRAWAL": "withdrawal",
    "INTEREST": "interest",
    "FEE": "fee",
    "TAX": "tax",
    "REI": "reinvestment",
    "STOCK_DIVIDEND": "stock_dividend",
    "TRANSFER": "transfer",
}
_CRYPTO_INSTITUTIONS = frozenset(
    {
        "binance",
        "binance.us",
        "bitfinex",
        "bitstamp",
        "bybit",
        "coinbase",
        "crypto.com",
        "gemini",
        "kraken",
        "kucoin",
        "okx",
        "uphold",
    }
)

QUANTITY_UNKNOWN = "quantity_unknown"
"""Set in an `Order`'s ``extra`` when SnapTrade gave none of its quantities."""

# --- parsing ----------------------------------------------------------------------------------


def objects(body: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise ProviderGarbage(NAME, f"{what or 'the answer'} is not a list of objects")
    return body


def required_str(obj: dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProviderGarbage(NAME, f"{what} has no {key}")
    return value.strip()


def _dec(value: object, what: str) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, str):
        if not DECIMAL_TEXT.fullmatch(value.strip()):  # Decimal reads 1_000 too
            raise ProviderGarbage(NAME, f"{what} is not a number")
        try:
            number = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the grammar admits only numbers
            raise ProviderGarbage(NAME, f"{what} is not a number") from None
    else:
        raise ProviderGarbage(NAME, f"{what} is missing or not a number")
    if not number.is_finite():
        raise ProviderGarbage(NAME, f"{what} is not a finite number")
    return plausible(number, what)


def plausible(number: Decimal, what: str) -> Decimal:
    """``number`` unless it is beyond `MAX_NUMBER` (and so beyond any real account)."""
    if number.copy_abs() >= MAX_NUMBER:  # copy_abs: abs() would round
        raise ProviderGarbage(NAME, f"{what} is too large")
    return number


def opt_dec(value: object, what: str) -> Decimal | None:
    return None if value is None else _dec(value, what)


def _timestamp(value: object, what: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProviderGarbage(NAME, f"{what} is not a timestamp")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ProviderGarbage(NAME, f"{what} is not a timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _code(value: object) -> str | None:
    """A currency given as ``{"code": ...}`` or as the code itself."""
    if isinstance(value, dict):
        value = value.get("code")
    return _text(value)


# --- mapping ----------------------------------------------------------------------------------


def account(raw: dict[str, Any], tradable: bool) -> ProviderAccount:
    account_id = required_str(raw, "id", "an account")
    meta_raw = raw.get("meta")
    meta: dict[str, Any] = meta_raw if isinstance(meta_raw, dict) else {}
    institution = _text(raw.get("institution_name")) or _text(meta.get("institution_name"))
    institution = institution or "SnapTrade"
    number = _text(raw.get("number"))
    currency, _ = account_total(raw)
    kinds = " ".join(
        _text(v) or "" for v in (raw.get("raw_type"), meta.get("type"), raw.get("account_category"))
    ).lower()
    crypto = "crypto" in kinds or institution.lower() in _CRYPTO_INSTITUTIONS
    return ProviderAccount(
        id=account_id,
        name=_text(raw.get("name")) or institution,
        type=AccountType.CRYPTO if crypto else AccountType.BROKERAGE,
        currency=currency,
        institution=institution,
        mask=number[-4:] if number and len(number) >= 4 else None,
        can_trade=tradable and raw.get("status") not in ("closed", "archived"),
    )


def account_total(raw: dict[str, Any]) -> tuple[str, Decimal | None]:
    """The account's currency (USD when SnapTrade gives none) and its total value."""
    balance = raw.get("balance")
    total = balance.get("total") if isinstance(balance, dict) else None
    if not isinstance(total, dict):
        return "USD", None
    currency = _text(total.get("currency"))
    return (currency or "USD").upper(), opt_dec(total.get("amount"), "the total")


def balance_row(rows: list[dict[str, Any]], currency: str) -> dict[str, Any] | None:
    for row in rows:
        code = row.get("currency")
        code = code.get("code") if isinstance(code, dict) else code
        if isinstance(code, str) and code.upper() == currency:
            return row
    return rows[0] if len(rows) == 1 else None


def position(raw: dict[str, Any]) -> Holding | None:
    """One result of ``/positions/all``; None for one whose size is unknown (``units`` is
    nullable in the spec: then the tax lots' quantities are summed when there are any)."""
    instrument = raw.get("instrument")
    if not isinstance(instrument, dict):
        raise ProviderGarbage(NAME, "a position has no instrument")
    symbol = required_str(instrument, "symbol", "a position's instrument")
    quantity = opt_dec(raw.get("units"), f"the units of {symbol}")
    if quantity is None:
        lots = raw.get("tax_lots")
        sizes = [
            opt_dec(lot.get("quantity"), f"a tax lot of {symbol}")
            for lot in (lots if isinstance(lots, list) else [])
            if isinstance(lot, dict)
        ]
        if not sizes or any(size is None for size in sizes):
            log.warning("snaptrade_position_without_units", symbol=symbol)
            return None
        quantity = sum((size for size in sizes if size is not None), Decimal(0))
        quantity = plausible(quantity, f"the units of {symbol}")
    unit_cost = opt_dec(raw.get("cost_basis"), f"the cost basis of {symbol}")
    currency = _text(raw.get("currency")) or _text(instrument.get("currency")) or "USD"
    return Holding(
        symbol=symbol,
        quantity=quantity,
        price=opt_dec(raw.get("price"), f"the price of {symbol}"),
        cost_basis=None
        if unit_cost is None
        else plausible(unit_cost * quantity, f"the cost basis of {symbol}"),
        currency=currency.upper(),
        name=_text(instrument.get("description")),
    )


def transaction(raw: dict[str, Any]) -> Transaction:
    what = "an activity"
    activity_id = required_str(raw, "id", what)
    moment = raw.get("trade_date") or raw.get("settlement_date")
    if not isinstance(moment, str):
        raise ProviderGarbage(NAME, "an activity has no date")
    try:
        day = (
            date.fromisoformat(moment)
            if len(moment) == 10
            else datetime.fromisoformat(moment).date()
        )
    except ValueError:
        raise ProviderGarbage(NAME, "an activity has a malformed date") from None
    kind = (_text(raw.get("type")) or "").upper()
    units = opt_dec(raw.get("units"), "an activity's units")
    price = opt_dec(raw.get("price"), "an activity's price")
    amount = opt_dec(raw.get("amount"), "an activity's amount")
    if amount is None:
        amount = units * price if units is not None and price is not None else Decimal(0)
        amount = plausible(amount, "an activity's amount")
    if kind in _INFLOWS:
        amount = amount.copy_abs()
    elif kind in _OUTFLOWS:
        amount = -amount.copy_abs()
    symbol_obj = raw.get("symbol")
    option = raw.get("option_symbol")
    symbol = _text(symbol_obj.get("symbol")) if isinstance(symbol_obj, dict) else None
    if symbol is None and isinstance(option, dict):
        symbol = _text(option.get("ticker"))
    return Transaction(
        id=activity_id,
        date=day,
        amount=amount,
        description=_text(raw.get("description")) or kind.replace("_", " ").title(),
        type=_KINDS.get(kind, kind.lower() or None),
        symbol=symbol,
        quantity=units,
        price=price,
        currency=(_code(raw.get("currency")) or "USD").upper(),
    )


def order(raw: dict[str, Any], client_order_id: str | None) -> Order:
    what = "an order"
    order_id = required_str(raw, "brokerage_order_id", what)
    raw_status = required_str(raw, "status", what).upper()
    status = _STATUSES.get(raw_status)
    if status is None:
        log.warning("snaptrade_order_status_unknown", order_id=order_id, status=raw_status)
        status = OrderStatus.SUBMITTED
    symbol = None
    for key in ("universal_symbol", "quote_universal_symbol"):
        holder = raw.get(key)
        if isinstance(holder, dict):
            symbol = _text(holder.get("symbol")) or _text(holder.get("raw_symbol"))
            if symbol:
                break
    option = raw.get("option_symbol")
    if symbol is None and isinstance(option, dict):
        symbol = _text(option.get("ticker"))
    if symbol is None:
        raise ProviderGarbage(NAME, f"order {order_id} has no symbol")
    side = required_str(raw, "action", what).upper()
    if side.startswith("BUY"):
        action = OrderAction.BUY
    elif side.startswith("SELL"):
        action = OrderAction.SELL
    else:
        raise ProviderGarbage(NAME, f"order {order_id} has an unknown action")
    filled = opt_dec(raw.get("filled_quantity"), f"the fill of order {order_id}")
    quantity = opt_dec(raw.get("total_quantity"), f"the quantity of order {order_id}")
    known = quantity is not None
    if quantity is None:  # nullable in the spec: the sum of its parts, where given
        parts = [
            opt_dec(raw.get(key), f"the {key} of order {order_id}")
            for key in ("filled_quantity", "open_quantity", "canceled_quantity")
        ]
        known = any(part is not None for part in parts)
        quantity = sum((part for part in parts if part is not None), Decimal(0))
        quantity = plausible(quantity, f"the quantity of order {order_id}")
    price = opt_dec(raw.get("execution_price"), f"the price of order {order_id}")
    echoed = raw.get("client_order_id")
    extra = {
        key: str(raw[key])
        for key in ("order_type", "time_in_force", "limit_price", "stop_price")
        if raw.get(key) is not None
    }
    if not known:
        extra[QUANTITY_UNKNOWN] = "true"
    return Order(
        provider_order_id=order_id,
        client_order_id=client_order_id or (echoed if isinstance(echoed, str) else None),
        status=status,
        symbol=symbol,
        action=action,
        quantity=quantity,
        filled_quantity=filled or Decimal(0),
        average_price=price if filled else None,
        placed_at=_timestamp(raw.get("time_placed"), f"order {order_id}'s time"),
        updated_at=_timestamp(raw.get("time_updated"), f"order {order_id}'s time"),
        filled_at=_timestamp(raw.get("time_executed"), f"order {order_id}'s time"),
        raw_status=raw_status,
        extra=extra,
    )
