from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from flint.brokerage.api import OrderAction, OrderType, TimeInForce
from flint.kit.money import PRICE_STEP, DecimalString, DecimalText
from flint.kit.schema import ApiModel, DecimalRange, RequestModel, Side, refused_at
from flint.kit.symbols import Symbol

if TYPE_CHECKING:
    from flint.trades.models import Trade

QUANTITY_DIGITS = 9
MAX_QUANTITY = Decimal(10) ** QUANTITY_DIGITS
"""More than any real order; larger is a typo (or an attack on arithmetic)."""
PRICE_DIGITS = 8
MAX_PRICE = Decimal(10) ** PRICE_DIGITS


def _quantity(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("quantity must be a finite number")
    if value <= 0:
        raise ValueError("quantity must be greater than 0")
    if value > MAX_QUANTITY:
        raise ValueError(f"quantity must be at most {MAX_QUANTITY:,}")
    if value != value.quantize(PRICE_STEP):
        raise ValueError("quantity has at most 8 decimal places")
    return value


def _price(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or value <= 0:
        raise ValueError("prices must be greater than 0")
    if value > MAX_PRICE:
        raise ValueError(f"prices must be at most {MAX_PRICE:,}")
    if value != value.quantize(PRICE_STEP):
        raise ValueError("prices have at most 8 decimal places")
    return value


Quantity = Annotated[
    Decimal,
    Field(
        description="Units to trade: > 0, at most 8 decimals (fractional shares, crypto). "
        'Send it as a string (`"0.015"`) to keep every digit.',
        examples=["10", "0.015"],
    ),
    AfterValidator(_quantity),
    DecimalRange(Side(QUANTITY_DIGITS)),
]
OrderPrice = Annotated[Decimal | None, AfterValidator(_price), DecimalRange(Side(PRICE_DIGITS))]


def _price_goes_with(field: str, kinds: list[str]) -> dict[str, Any]:
    """The schema of "``field`` is given exactly for these order types" (``market`` when the
    type is left out)."""
    return {
        "if": {"required": ["orderType"], "properties": {"orderType": {"enum": kinds}}},
        "then": {"required": [field], "properties": {field: {"not": {"type": "null"}}}},
        "else": {"properties": {field: {"type": "null"}}},
    }


class ExecuteTrade(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _price_goes_with("limitPrice", [OrderType.LIMIT.value, OrderType.STOP_LIMIT.value]),
                _price_goes_with("stopPrice", [OrderType.STOP.value, OrderType.STOP_LIMIT.value]),
            ]
        }
    )

    account_id: uuid.UUID
    asset: Symbol
    action: OrderAction
    quantity: Quantity
    order_type: OrderType = OrderType.MARKET
    limit_price: OrderPrice = Field(None, description="Required for limit and stop_limit.")
    stop_price: OrderPrice = Field(None, description="Required for stop and stop_limit.")
    time_in_force: TimeInForce = TimeInForce.DAY

    @model_validator(mode="after")
    def _prices_for_the_order_type(self) -> ExecuteTrade:
        needs_limit = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        kind = self.order_type.value
        problems: list[tuple[str, str]] = []
        for name, needed, given in (
            ("limitPrice", needs_limit, self.limit_price is not None),
            ("stopPrice", needs_stop, self.stop_price is not None),
        ):
            if needed and not given:
                problems.append((name, f"{name} is required for {kind} orders"))
            elif given and not needed:
                problems.append((name, f"{name} does not apply to {kind} orders"))
        if problems:
            raise refused_at(type(self), problems)
        return self

    def fingerprint(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class TradeOut(ApiModel):
    trade_id: uuid.UUID = Field(examples=["2f1e7c3a-9b4d-4e6f-8a2b-1c3d5e7f9a0b"])
    account_id: uuid.UUID = Field(examples=["5b0d7c1e-3f4a-4d2b-9c8e-7a6f5e4d3c2b"])
    asset: str = Field(examples=["AAPL"])
    action: str = Field(examples=["buy"])
    quantity: DecimalText = Field(examples=["10"])
    order_type: str = Field(examples=["limit"])
    time_in_force: str = Field(examples=["day"])
    limit_price: DecimalText | None = Field(None, examples=["187.50"])
    stop_price: DecimalText | None = Field(None, examples=[None])
    status: str = Field(
        description="pending, submitted, partially_filled, filled, rejected, canceled, "
        "expired, failed or unknown (sent, but the broker could not confirm whether it was "
        "placed: it is never sent again)",
        examples=["filled"],
    )
    filled_quantity: DecimalText = Field(examples=["10"])
    average_price: DecimalText | None = Field(None, examples=["187.25"])
    fees: DecimalString = Field(examples=["0.00"])
    reason: str | None = Field(None, examples=[None])
    provider_order_id: str | None = Field(None, examples=["ord_8c1f2b7e"])
    created_at: datetime = Field(examples=["2024-06-03T14:30:00Z"])
    submitted_at: datetime | None = Field(None, examples=["2024-06-03T14:30:01Z"])
    executed_at: datetime | None = Field(None, examples=["2024-06-03T14:30:02Z"])

    @classmethod
    def of(cls, trade: Trade | Any) -> TradeOut:
        """From a `Trade` or a row of `trades.service.TRADE_COLUMNS` (the same attributes)."""
        return cls(
            trade_id=trade.id,
            account_id=trade.account_id,
            asset=trade.symbol,
            action=trade.action,
            quantity=trade.quantity,
            order_type=trade.order_type,
            time_in_force=trade.time_in_force,
            limit_price=trade.limit_price,
            stop_price=trade.stop_price,
            status=trade.status,
            filled_quantity=trade.filled_quantity,
            average_price=trade.average_price,
            fees=trade.fees,
            reason=trade.reason,
            provider_order_id=trade.provider_order_id,
            created_at=trade.created_at,
            submitted_at=trade.submitted_at,
            executed_at=trade.executed_at,
        )


class SettleTrade(RequestModel):
    """What the user found at the broker for a trade left ``unknown``."""

    placed: bool = Field(description="Whether the broker has the order", examples=[True])
    provider_order_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="The broker's id of the order (with placed: true)",
        examples=["66a033fa-da74-4fcf-b527-feefdec9257e"],
    )

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"placed": {"const": True}}},
            "then": {
                "required": ["providerOrderId"],
                "properties": {"providerOrderId": {"type": "string"}},
            },
            "else": {"properties": {"providerOrderId": {"type": "null"}}},
        }
    )

    @model_validator(mode="after")
    def _id_when_placed(self) -> SettleTrade:
        if self.placed and self.provider_order_id is None:
            raise refused_at(
                type(self), [("providerOrderId", "providerOrderId is required when placed is true")]
            )
        if not self.placed and self.provider_order_id is not None:
            raise refused_at(
                type(self), [("providerOrderId", "providerOrderId goes only with placed: true")]
            )
        return self


class Trades(ApiModel):
    trades: list[TradeOut]
    next_cursor: str | None = Field(
        None,
        description="Asks for the next, older page (`cursor`); null on the last.",
        examples=["MjAyNi0xMi0wNlQxMjo0MDozMy4xNzk2NzIrMDA6MDB8ODA1OGIwZWMtMWFlZi00ZDZj"],
    )


class TradeEventOut(ApiModel):
    status: str = Field(examples=["submitted"])
    detail: dict[str, Any] = Field(examples=[{"providerOrderId": "ord_8c1f2b7e"}])
    created_at: datetime = Field(examples=["2024-06-03T14:30:01Z"])


class TradeEvents(ApiModel):
    events: list[TradeEventOut]
