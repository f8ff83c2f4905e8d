"""Ghostfolio's export file (what its "Export" button writes: `ExportResponse` in
ghostfolio/ghostfolio `libs/common/src/lib/interfaces/responses/export-response.interface.ts`,
read as its `ImportDataDto` reads it), and what Flint answers after importing one.

The file's fields are camelCase like Flint's own; fields Flint does not use are ignored. Numbers
are read as exact decimals from the JSON text."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from flint.kit.money import DecimalString
from flint.kit.schema import ApiModel

Number = Annotated[Decimal, Field(allow_inf_nan=True)]
"""A number of the file, NaN and infinities too: the reader names them with the other
problems."""


class GfMarketData(ApiModel):
    date: str
    market_price: Number


class GfAssetProfile(ApiModel):
    symbol: str
    data_source: str
    currency: str | None = None
    name: str | None = None
    asset_class: str | None = None
    asset_sub_class: str | None = None
    market_data: list[GfMarketData] | None = None


class GfBalance(ApiModel):
    date: str
    value: Number


class GfAccount(ApiModel):
    id: str | None = None
    name: str
    currency: str
    balance: Number | None = None
    """Older files: the cash balance as of the export."""
    balances: list[GfBalance] | None = None
    """Newer files: the cash balance's history."""
    comment: str | None = None
    platform_id: str | None = None
    tags: list[str] | None = None


class GfActivity(ApiModel):
    account_id: str | None = None
    comment: str | None = None
    currency: str | None = None
    data_source: str | None = None
    date: str
    fee: Number = Decimal(0)
    quantity: Number
    symbol: str | None = None
    type: str
    unit_price: Number
    tags: list[str] | None = None


class GfFile(ApiModel):
    meta: dict[str, Any] | None = None
    accounts: list[GfAccount] | None = None
    activities: list[GfActivity]
    asset_profiles: list[GfAssetProfile] | None = None
    platforms: list[dict[str, Any]] | None = None
    tags: list[dict[str, Any]] | None = None
    user: dict[str, Any] | None = None


class BalanceFlow(ApiModel):
    """A deposit or withdrawal that makes the cash the account's balance on its day."""

    where: str = Field(examples=["accounts[0].balances[1]"])
    date: dt.date = Field(examples=["2023-12-31"])
    type: str = Field(examples=["deposit"])
    amount: DecimalString = Field(description="In the base currency.", examples=["201.32"])


class ImportedPortfolio(ApiModel):
    portfolio_id: uuid.UUID = Field(examples=["8f14e45f-ceea-4e7a-9b3d-2c1a6b7e9d10"])
    name: str = Field(examples=["My Online Trading Account"])
    base_currency: str = Field(examples=["USD"])
    account_id: str | None = Field(
        description="The Ghostfolio account it holds (null: the activities without one, or "
        "every account with `portfolios=one`).",
        examples=["b2d3fe1d-d6a8-41a3-be39-07ef5e9480f0"],
    )
    created: bool = Field(
        description="False when the portfolio an earlier import made of this account (or, "
        "with `portfolios=one`, of this name) was used: only what it lacked was added.",
        examples=[True],
    )
    allow_negative_cash: bool = Field(examples=[False])
    transactions: dict[str, int] = Field(
        description="Ledger rows created, per Flint transaction type.",
        examples=[{"buy": 3, "sell": 1, "dividend": 2, "deposit": 1}],
    )
    skipped: int = Field(
        description="The file's rows (balance flows included) the portfolio had imported "
        "before, and so were not added again.",
        examples=[0],
    )
    balance_flows: list[BalanceFlow] = Field(
        description="The deposits and withdrawals (among `transactions`) added for the "
        "account's cash balances."
    )


class ImportedAsset(ApiModel):
    ghostfolio_symbol: str = Field(examples=["7e91b7d4-1430-4212-8380-289a06c9bbc1"])
    symbol: str = Field(description="The Flint custom asset it became.", examples=["GF:PENTHOUSE"])
    name: str = Field(examples=["Penthouse Apartment"])
    created: bool = Field(
        description="False when one of your custom assets with this symbol, name and currency "
        "was used (only the prices of days it had none were added).",
        examples=[True],
    )
    prices: int = Field(description="Prices added.", examples=[2])


class NotImported(ApiModel):
    where: str = Field(examples=["activities[7]"])
    reason: str = Field(examples=["a LIABILITY has no place in a Flint ledger"])


class GhostfolioImport(ApiModel):
    portfolios: list[ImportedPortfolio]
    custom_assets: list[ImportedAsset]
    not_imported: list[NotImported]


FILE_SCHEMA: dict[str, Any] = {
    "title": "GhostfolioExport",
    "type": "object",
    "description": "Ghostfolio's export file (its Export button's JSON), as written and read.",
    "required": ["activities"],
    "properties": {
        "meta": {
            "type": "object",
            "description": "`date` of the export and Ghostfolio's `version`.",
        },
        "accounts": {"type": "array", "items": {"type": "object"}},
        "activities": {"type": "array", "items": {"type": "object"}},
        "assetProfiles": {"type": "array", "items": {"type": "object"}},
        "platforms": {"type": "array", "items": {"type": "object"}},
        "tags": {"type": "array", "items": {"type": "object"}},
        "user": {"type": "object"},
    },
    "examples": [
        {
            "meta": {"date": "2024-07-01T08:15:42.318Z", "version": "2.95.0"},
            "accounts": [
                {
                    "id": "b2d3fe1d-d6a8-41a3-be39-07ef5e9480f0",
                    "name": "Interactive Brokers",
                    "currency": "USD",
                    "balances": [{"date": "2024-06-30T00:00:00.000Z", "value": 2500}],
                    "comment": None,
                    "platformId": None,
                }
            ],
            "activities": [
                {
                    "accountId": "b2d3fe1d-d6a8-41a3-be39-07ef5e9480f0",
                    "comment": None,
                    "currency": "USD",
                    "dataSource": "YAHOO",
                    "date": "2023-01-03T00:00:00.000Z",
                    "fee": 1,
                    "quantity": 10,
                    "symbol": "AAPL",
                    "type": "BUY",
                    "unitPrice": 125.07,
                }
            ],
            "assetProfiles": [],
            "user": {"settings": {"currency": "USD"}},
        }
    ],
}
"""What the OpenAPI document says of the file (`GfFile` reads it, numbers exactly)."""
