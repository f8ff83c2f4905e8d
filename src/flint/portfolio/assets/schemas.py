from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, RootModel

from flint.kit.money import DecimalString
from flint.kit.schema import ApiModel, RequestModel
from flint.kit.symbols import CustomSymbol
from flint.portfolio.schemas import Currency, Positive

AssetClass = Literal[
    "real_estate",
    "private_equity",
    "bond",
    "fund",
    "cash_equivalent",
    "commodity",
    "collectible",
    "crypto",
    "vehicle",
    "other",
]

MAX_PRICES = 20_000


class CustomAssetIn(RequestModel):
    symbol: CustomSymbol
    name: str = Field(min_length=1, max_length=200, examples=["Our house"])
    currency: Currency = "USD"
    asset_class: AssetClass = Field("other", examples=["real_estate"])


class CustomAssetUpdate(RequestModel):
    name: str = Field(min_length=1, max_length=200, examples=["Our house"])
    asset_class: AssetClass = Field("other", examples=["real_estate"])


class PricePoint(ApiModel):
    date: dt.date = Field(examples=["2024-06-30"])
    price: DecimalString = Field(description="As given: a decimal string.", examples=["450000.00"])


class PricePointIn(RequestModel):
    date: dt.date = Field(examples=["2024-06-30"])
    price: Positive = Field(examples=["450000"])


class PricesIn(RootModel[list[PricePointIn]]):
    root: list[PricePointIn] = Field(min_length=1, max_length=MAX_PRICES)


class CustomAssetOut(ApiModel):
    symbol: str = Field(examples=["MY:HOUSE"])
    name: str = Field(examples=["Our house"])
    currency: str = Field(examples=["USD"])
    asset_class: str = Field(examples=["real_estate"])
    first_price_date: dt.date | None = Field(
        description="Before this day the asset has no value and cannot be bought.",
        examples=["2021-04-30"],
    )
    last_price: DecimalString | None = Field(
        description="As given: a decimal string.", examples=["450000.00"]
    )
    last_price_date: dt.date | None = Field(examples=["2024-06-30"])
    price_count: int = Field(examples=[4])
    created_at: dt.datetime = Field(examples=["2024-01-20T18:02:11Z"])
    updated_at: dt.datetime = Field(examples=["2024-07-02T08:45:00Z"])


class CustomAssets(ApiModel):
    assets: list[CustomAssetOut]


class Prices(ApiModel):
    symbol: str = Field(examples=["MY:HOUSE"])
    currency: str = Field(examples=["USD"])
    prices: list[PricePoint]


class PricesWritten(ApiModel):
    symbol: str = Field(examples=["MY:HOUSE"])
    inserted: int = Field(examples=[1])
    updated: int = Field(examples=[0])
    asset: CustomAssetOut
