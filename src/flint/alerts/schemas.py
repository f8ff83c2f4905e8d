from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from flint.kit.money import PRICE_STEP, DecimalText, JsonDecimal
from flint.kit.schema import ApiModel, DecimalRange, RequestModel, Side
from flint.kit.symbols import Symbol

PRICE_RANGE = DecimalRange(Side(8))
"""A price threshold: above 0, at most 100,000,000, 8 decimals."""
PERCENT_RANGE = DecimalRange(Side(3), below=Side(2, reaches=False), places=4)
"""A percent_change threshold: not 0, above -100 (a price cannot fall by 100 % or more), at most
1,000 (a day's rise beyond is no alert anyone means), 4 decimals."""
MAX_PRICE = PRICE_RANGE.top
MAX_RISE_PERCENT = PERCENT_RANGE.top
MIN_FALL_PERCENT = PERCENT_RANGE.bottom


class AlertCondition(StrEnum):
    ABOVE = "above"
    BELOW = "below"
    PERCENT_CHANGE = "percent_change"


class AlertState(StrEnum):
    ARMED = "armed"
    FIRED = "fired"
    PAUSED = "paused"


CONDITIONS_DOC = (
    "`above`: the price reaches the threshold or more. `below`: the price reaches the "
    "threshold or less. `percent_change`: the day's change in percent (against the previous "
    "close, as the quote gives it) reaches the threshold in its sign's direction: `5` fires "
    "at +5 % or more, `-3` at -3 % or less."
)


def _fits_the_condition(value: Decimal | None, info: ValidationInfo) -> Decimal | None:
    """The threshold's validator, for creating and changing an alert (a change may leave it
    out: None)."""
    if value is not None:
        problem = threshold_problem(info.data.get("condition"), value)
        if problem is not None:
            raise ValueError(problem)
    return value


class AlertIn(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"required": ["condition"], "properties": {"condition": {"const": kind}}},
                    "then": {"properties": {"threshold": limits.schema()}},
                }
                for kind, limits in (
                    ("percent_change", PERCENT_RANGE),
                    ("above", PRICE_RANGE),
                    ("below", PRICE_RANGE),
                )
            ]
        }
    )

    symbol: Symbol
    condition: AlertCondition = Field(description=CONDITIONS_DOC)
    threshold: Decimal = Field(
        description="A price (> 0, at most 8 decimals) for `above` and `below`; a percentage "
        "for `percent_change` (not 0, above -100 and at most 1000, at most 4 decimals). Send it "
        'as a string (`"189.5"`) to keep every digit.',
        examples=["200", "-5"],
    )

    _threshold_fits_the_condition = field_validator("threshold")(_fits_the_condition)


def threshold_problem(condition: AlertCondition | None, value: Decimal) -> str | None:
    """Why ``value`` cannot be the threshold of a ``condition`` alert (None: it can; without a
    condition, only that it is a finite number)."""
    if not value.is_finite():
        return "the threshold must be a finite number"
    if condition is AlertCondition.PERCENT_CHANGE:
        if value == 0:
            return "a percent_change threshold is not 0: e.g. 5 (up) or -5 (down)"
        if not MIN_FALL_PERCENT < value <= MAX_RISE_PERCENT:
            return (
                f"a percent_change threshold is above {MIN_FALL_PERCENT} and at most "
                f"{MAX_RISE_PERCENT}"
            )
        if value != value.quantize(Decimal("1e-4")):
            return "a percent_change threshold has at most 4 decimal places"
    elif condition is not None:
        if value <= 0:
            return f"the {condition.value} threshold is a price greater than 0"
        if value > MAX_PRICE:
            return f"the {condition.value} threshold is at most {MAX_PRICE:,}"
        if value != value.quantize(PRICE_STEP):
            return "a price threshold has at most 8 decimal places"
    return None


class AlertPatch(RequestModel):
    """Only the fields sent change (a field sent as `null` stays as it is). A new condition or
    threshold re-arms the alert (one that already holds fires at the next check); `paused`
    stops it firing until it is sent `false`."""

    model_config = ConfigDict(json_schema_extra=AlertIn.model_config.get("json_schema_extra"))

    condition: AlertCondition | None = Field(None, description=CONDITIONS_DOC)
    threshold: Decimal | None = Field(
        None,
        description="As when created, for the alert's condition (the one sent, else its own).",
        examples=["210"],
    )
    paused: bool | None = Field(
        None, description="`true`: checked, never fired, until sent `false`.", examples=[True]
    )

    _threshold_fits_the_condition = field_validator("threshold")(_fits_the_condition)


class AlertOut(ApiModel):
    alert_id: uuid.UUID = Field(examples=["6e8a0c2e-4a6c-4e8b-a1c3-5e7a9c1e3b4d"])
    symbol: str = Field(examples=["AAPL"])
    condition: AlertCondition
    threshold: DecimalText = Field(examples=["200"])
    state: AlertState = Field(
        description="`armed`: fires when the condition holds. `fired`: it held at the last "
        "check; the alert re-arms once it no longer holds. `paused`: checked, never fired, "
        "until resumed (`PATCH` with `paused: false`)."
    )
    last_price: DecimalText | None = Field(
        None, description="The price at the last check.", examples=["189.84"]
    )
    last_change_percent: JsonDecimal | None = Field(None, examples=[0.64])
    last_checked_at: datetime | None = Field(
        None,
        description="The time of the quote last checked.",
        examples=["2024-06-03T14:30:00Z"],
    )
    last_fired_at: datetime | None = Field(None, examples=[None])
    created_at: datetime = Field(examples=["2024-05-20T12:00:00Z"])


class Alerts(ApiModel):
    alerts: list[AlertOut]
