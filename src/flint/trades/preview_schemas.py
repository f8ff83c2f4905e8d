"""The bodies of trade previews: the preview's answer, and executing one by its id."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field

from flint.kit.money import DecimalString
from flint.kit.schema import ApiModel, RequestModel

if TYPE_CHECKING:
    from flint.trades.preview_store import TradePreview


class ExecutePreview(RequestModel):
    """Place exactly the trade a preview showed, once."""

    preview_id: uuid.UUID = Field(examples=["8d3b1f0e-2c4a-4b6d-9e8f-7a1b2c3d4e5f"])

    def fingerprint(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PreviewOut(ApiModel):
    preview_id: uuid.UUID = Field(
        description="Send it to `POST /trades/execute` as `previewId` to place this trade.",
        examples=["8d3b1f0e-2c4a-4b6d-9e8f-7a1b2c3d4e5f"],
    )
    estimated_price: DecimalString = Field(
        description="Per unit, in the account's currency: the limit price of a limit order, "
        "the broker's current price otherwise.",
        examples=["187.25"],
    )
    estimated_value: DecimalString = Field(
        description="Quantity times the estimated price, before commission.",
        examples=["1872.50"],
    )
    commission: DecimalString = Field(examples=["0.00"])
    buying_power_after: DecimalString | None = Field(
        description="What the account would have left to trade with (null when the broker "
        "does not say).",
        examples=["8127.50"],
    )
    warnings: list[str] = Field(
        description="What to know before placing it (a limit not reached, fees on top, ...).",
        examples=[
            [
                "The limit 180 is not reached (the price is 187.25): the order fills only "
                "at or below it."
            ]
        ],
    )
    expires_at: datetime = Field(
        description="Execute it before then; after, preview again.",
        examples=["2024-06-03T14:35:00Z"],
    )

    @classmethod
    def of(cls, preview: TradePreview) -> PreviewOut:
        return cls(
            preview_id=preview.id,
            estimated_price=preview.estimated_price,
            estimated_value=preview.estimated_value,
            commission=preview.commission,
            buying_power_after=preview.buying_power_after,
            warnings=list(preview.warnings),
            expires_at=preview.expires_at,
        )
