"""The market-data service of this process, for the routes of every feature that prices things."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from flint.market.service import MarketData
from flint.web import part

MarketDep = Annotated[MarketData, Depends(part(MarketData))]
