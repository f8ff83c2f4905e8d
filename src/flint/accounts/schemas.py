from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import Field

from flint.kit.money import JsonDecimal
from flint.kit.schema import ApiModel, RequestModel

PROVIDER_FIELD = Field(
    min_length=1, max_length=32, description="sandbox, snaptrade or teller", examples=["sandbox"]
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
    provider: str = PROVIDER_FIELD
    redirect_url: str | None = Field(None, max_length=2000)


class ConnectPortal(ApiModel):
    provider: str
    url: str = Field(description="Open it in a browser; it expires after a few minutes.")


class Balances(ApiModel):
    current: JsonDecimal | None = None
    available: JsonDecimal | None = None
    cash: JsonDecimal | None = None
    buying_power: JsonDecimal | None = None


class AccountSummary(ApiModel):
    account_id: uuid.UUID
    provider: str
    name: str
    type: str = Field(description="brokerage, crypto, checking, savings or credit")
    currency: str
    institution: str
    mask: str | None = None
    can_trade: bool
    balances: Balances
    last_synced_at: datetime | None = None
    sync_error: str | None = None


class LinkResult(ApiModel):
    account_id: uuid.UUID = Field(description="The first account the link created.")
    provider: str
    linked: bool = True
    accounts: list[AccountSummary]


class Accounts(ApiModel):
    accounts: list[AccountSummary]


class HoldingOut(ApiModel):
    symbol: str
    name: str | None = None
    quantity: JsonDecimal
    price: JsonDecimal | None = None
    value: JsonDecimal | None = None
    cost_basis: JsonDecimal | None = None
    currency: str


class TransactionOut(ApiModel):
    transaction_id: uuid.UUID
    date: date
    amount: JsonDecimal = Field(description="Signed: money in is positive, money out negative.")
    currency: str
    description: str
    status: str
    category: str | None = None
    type: str | None = None
    symbol: str | None = None
    quantity: JsonDecimal | None = None
    price: JsonDecimal | None = None


class AccountDetail(AccountSummary):
    holdings: list[HoldingOut]
    transactions: list[TransactionOut]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page of transactions; null at the end."
    )


class SyncQueued(ApiModel):
    account_id: uuid.UUID = Field(examples=["5b0d7c1e-3f4a-4d2b-9c8e-7a6f5e4d3c2b"])
    queued: bool = Field(default=True, examples=[True])
