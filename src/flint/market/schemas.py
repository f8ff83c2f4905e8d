from __future__ import annotations

from datetime import datetime

from pydantic import Field

from flint.kit.money import JsonDecimal
from flint.kit.schema import ApiModel
from flint.market.providers.types import InstrumentType, Interval


class RealTimeQuote(ApiModel):
    symbol: str = Field(examples=["AAPL"])
    name: str = Field(examples=["Apple Inc."])
    price: JsonDecimal = Field(examples=[189.84])
    change: JsonDecimal = Field(examples=[1.21])
    change_percent: JsonDecimal = Field(description="Percent, 2 decimals.", examples=[0.64])
    open: JsonDecimal
    high: JsonDecimal
    low: JsonDecimal
    previous_close: JsonDecimal
    volume: int
    currency: str = Field(examples=["USD"])
    timestamp: datetime = Field(description="When the price was observed (UTC).")
    provider: str = Field(examples=["simulated"])
    stale: bool = Field(
        description="True when every provider failed and this is the last stored quote."
    )


class HistoricalBar(ApiModel):
    timestamp: datetime = Field(description="Start of the bar; daily bars start at the open.")
    open: JsonDecimal
    high: JsonDecimal
    low: JsonDecimal
    close: JsonDecimal
    adj_close: JsonDecimal
    volume: int


class History(ApiModel):
    symbol: str
    interval: Interval
    currency: str
    bars: list[HistoricalBar]


class SearchResult(ApiModel):
    symbol: str = Field(examples=["AAPL"])
    name: str = Field(examples=["Apple Inc."])
    type: InstrumentType
    exchange: str = Field(examples=["NASDAQ"])
    currency: str = Field(examples=["USD"])


class SearchResults(ApiModel):
    results: list[SearchResult]
