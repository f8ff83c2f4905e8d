from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, JsonValue

from flint.kit.money import DecimalString, DecimalText
from flint.kit.schema import ApiModel, RequestModel

PROVIDERS: list[JsonValue] = ["sandbox", "snaptrade", "teller"]
PROVIDER_FIELD = Field(
    min_length=1,
    max_length=32,
    description="sandbox, snaptrade or teller (one this server is not configured for: 422)",
    examples=["sandbox"],
    json_schema_extra={"enum": PROVIDERS},
)


class LinkRequest(RequestModel):
    provider: str = PROVIDER_FIELD
    auth_code: str = Field(
        min_length=1,
        max_length=4096,
        description="What the institution gave back: for the sandbox any code (e.g. "
        "`demo` or `cash-25000`), Teller Connect's access token, SnapTrade's authorization id.",
        examples=["demo"],
    )


class ConnectRequest(RequestModel):
    provider: str = Field(
        min_length=1,
        max_length=32,
        description="snaptrade, the provider with a hosted portal (the others link with "
        "`POST /accounts/link`: 422)",
        examples=["snaptrade"],
        json_schema_extra={"enum": ["snaptrade"]},
    )
    redirect_url: str | None = Field(None, max_length=2000)
    reconnect: uuid.UUID | None = Field(
        None,
        description="One of your accounts whose connection is broken: the portal repairs that "
        "connection (same accounts, no new link) instead of adding one. SnapTrade only.",
        examples=[None],
    )


class ConnectPortal(ApiModel):
    provider: str = Field(examples=["snaptrade"])
    url: str = Field(
        description="Open it in a browser; it expires after a few minutes.",
        examples=["https://app.snaptrade.com/snapTrade/redeemToken?token=Zm9yIGRvY3Mgb25seQ"],
    )


class Balances(ApiModel):
    current: DecimalString | None = Field(None, examples=["25310.42"])
    available: DecimalString | None = Field(None, examples=["4210.17"])
    cash: DecimalString | None = Field(None, examples=["4210.17"])
    buying_power: DecimalString | None = Field(None, examples=["8420.34"])


class AccountSummary(ApiModel):
    account_id: uuid.UUID = Field(examples=["5b0d7c1e-3f4a-4d2b-9c8e-7a6f5e4d3c2b"])
    provider: str = Field(examples=["sandbox"])
    name: str = Field(examples=["Individual Brokerage"])
    type: str = Field(
        description="brokerage, crypto, checking, savings or credit", examples=["brokerage"]
    )
    currency: str = Field(examples=["USD"])
    institution: str = Field(examples=["Sandbox Securities"])
    mask: str | None = Field(None, examples=["4821"])
    can_trade: bool = Field(examples=[True])
    balances: Balances
    last_synced_at: datetime | None = Field(None, examples=["2024-06-03T14:30:00Z"])
    sync_error: str | None = Field(None, examples=[None])


class LinkResult(ApiModel):
    account_id: uuid.UUID = Field(
        description="The first account the link created.",
        examples=["5b0d7c1e-3f4a-4d2b-9c8e-7a6f5e4d3c2b"],
    )
    provider: str = Field(examples=["sandbox"])
    linked: bool = Field(True, examples=[True])
    accounts: list[AccountSummary]


class Accounts(ApiModel):
    accounts: list[AccountSummary]


class HoldingOut(ApiModel):
    symbol: str = Field(examples=["VTI"])
    name: str | None = Field(None, examples=["Vanguard Total Stock Market ETF"])
    quantity: DecimalText = Field(examples=["42.5"])
    price: DecimalText | None = Field(None, examples=["268.13"])
    value: DecimalString | None = Field(None, examples=["11395.53"])
    cost_basis: DecimalString | None = Field(None, examples=["9875.00"])
    currency: str = Field(examples=["USD"])


class TransactionOut(ApiModel):
    transaction_id: uuid.UUID = Field(examples=["d4e6f8a0-2c4e-4a6b-9d1f-3a5c7e9b1d2f"])
    date: Annotated[date, Field(examples=["2024-05-28"])]
    amount: DecimalString = Field(
        description="Signed: money in is positive, money out negative.", examples=["-1871.50"]
    )
    currency: str = Field(examples=["USD"])
    description: str = Field(examples=["Bought 10 AAPL @ 187.15"])
    status: str = Field(examples=["posted"])
    category: str | None = Field(None, examples=["investment"])
    type: str | None = Field(None, examples=["buy"])
    symbol: str | None = Field(None, examples=["AAPL"])
    quantity: DecimalText | None = Field(None, examples=["10"])
    price: DecimalText | None = Field(None, examples=["187.15"])


class AccountDetail(AccountSummary):
    holdings: list[HoldingOut]
    transactions: list[TransactionOut]
    next_cursor: str | None = Field(
        None,
        description="Pass as `cursor` for the next page of transactions; null at the end.",
        examples=["MjAyNC0wNS0yOHxkNGU2ZjhhMA"],
    )


class SyncQueued(ApiModel):
    account_id: uuid.UUID = Field(examples=["5b0d7c1e-3f4a-4d2b-9c8e-7a6f5e4d3c2b"])
    queued: bool = Field(default=True, examples=[True])
