"""What `PATCH /portfolio/{portfolioId}` takes (`portfolio.editing.amend`)."""

from __future__ import annotations

from pydantic import Field

from flint.kit.schema import RequestModel
from flint.portfolio.schemas import BASE, NEGATIVE_CASH, BaseCurrency


class PortfolioPatch(RequestModel):
    """Only the fields sent change (a field sent as `null` stays as it is); the lots and the
    rest of the ledger are left alone, however many there are."""

    name: str | None = Field(None, min_length=1, max_length=200, examples=["Retirement"])
    base_currency: BaseCurrency | None = Field(None, description=BASE)
    allow_negative_cash: bool | None = Field(None, description=NEGATIVE_CASH)
