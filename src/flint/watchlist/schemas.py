from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from flint.kit.schema import ApiModel, RequestModel
from flint.kit.symbols import Symbol


class AddToWatchlist(RequestModel):
    user_id: uuid.UUID = Field(description="Must be the signed-in user's id.")
    asset: Symbol


class WatchlistEntry(ApiModel):
    watchlist_id: uuid.UUID = Field(validation_alias="id")
    asset: str = Field(validation_alias="symbol", examples=["AAPL"])
    added_at: datetime


class Watchlist(ApiModel):
    watchlist: list[WatchlistEntry]
