from __future__ import annotations

from datetime import datetime

from pydantic import Field

from flint.kit.money import DecimalText, JsonDecimal
from flint.kit.schema import ApiModel
from flint.market.providers.types import InstrumentType, Interval


class RealTimeQuote(ApiModel):
    symbol: str = Field(examples=["AAPL"])
    name: str = Field(examples=["Apple Inc."])
    price: DecimalText = Field(examples=["189.84"])
    change: DecimalText = Field(examples=["1.21"])
    change_percent: JsonDecimal = Field(description="Percent, 2 decimals.", examples=[0.64])
    open: DecimalText = Field(examples=["188.50"])
    high: DecimalText = Field(examples=["190.12"])
    low: DecimalText = Field(examples=["188.01"])
    previous_close: DecimalText = Field(examples=["188.63"])
    volume: int = Field(examples=[52164839])
    currency: str = Field(examples=["USD"])
    timestamp: datetime = Field(
        description="When the price was observed (UTC).", examples=["2024-06-03T19:59:58Z"]
    )
    provider: str = Field(examples=["simulated"])
    stale: bool = Field(
        description="True when every provider failed and this is the last stored quote.",
        examples=[False],
    )


class HistoricalBar(ApiModel):
    timestamp: datetime = Field(
        description="Start of the bar; daily bars start at the open.",
        examples=["2024-06-03T13:30:00Z"],
    )
    open: DecimalText = Field(examples=["188.50"])
    high: DecimalText = Field(examples=["190.12"])
    low: DecimalText = Field(examples=["188.01"])
    close: DecimalText = Field(examples=["189.84"])
    adj_close: DecimalText = Field(examples=["189.84"])
    volume: int = Field(examples=[52164839])


class History(ApiModel):
    symbol: str = Field(examples=["AAPL"])
    interval: Interval
    currency: str = Field(examples=["USD"])
    bars: list[HistoricalBar]


class SearchResult(ApiModel):
    symbol: str = Field(examples=["AAPL"])
    name: str = Field(examples=["Apple Inc."])
    type: InstrumentType
    exchange: str = Field(examples=["NASDAQ"])
    currency: str = Field(examples=["USD"])


class SearchResults(ApiModel):
    results: list[SearchResult]
