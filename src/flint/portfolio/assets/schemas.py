from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, RootModel

from flint.kit.money import JsonDecimal
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
    date: dt.date
    price: JsonDecimal


class PricePointIn(RequestModel):
    date: dt.date = Field(examples=["2024-06-30"])
    price: Positive = Field(examples=["450000"])


class PricesIn(RootModel[list[PricePointIn]]):
    root: list[PricePointIn] = Field(min_length=1, max_length=MAX_PRICES)


class CustomAssetOut(ApiModel):
    symbol: str
    name: str
    currency: str
    asset_class: str
    first_price_date: dt.date | None = Field(
        description="Before this day the asset has no value and cannot be bought."
    )
    last_price: JsonDecimal | None
    last_price_date: dt.date | None
    price_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


class CustomAssets(ApiModel):
    assets: list[CustomAssetOut]


class Prices(ApiModel):
    symbol: str
    currency: str
    prices: list[PricePoint]


class PricesWritten(ApiModel):
    symbol: str
    inserted: int
    updated: int
    asset: CustomAssetOut
