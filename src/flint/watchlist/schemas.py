from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from flint.kit.schema import ApiModel, RequestModel
from flint.kit.symbols import Symbol


class AddToWatchlist(RequestModel):
    user_id: uuid.UUID = Field(
        description="Must be the signed-in user's id (`userId` of `GET /api/v1/auth/me`).",
        examples=["5a46d20d-cd13-4e08-9ccf-9cd7121c3481"],
    )
    asset: Symbol


class WatchlistEntry(ApiModel):
    watchlist_id: uuid.UUID = Field(
        validation_alias="id", examples=["0b9e5c1e-7d1f-4c43-9a57-3f7f5a2de1a4"]
    )
    asset: str = Field(validation_alias="symbol", examples=["AAPL"])
    added_at: datetime = Field(examples=["2026-11-23T16:12:05.123456Z"])


class Watchlist(ApiModel):
    watchlist: list[WatchlistEntry]
