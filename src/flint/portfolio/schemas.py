from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from flint.kit.money import JsonDecimal
from flint.kit.schema import ApiModel, RequestModel
from flint.kit.symbols import AnySymbol

MAX_AMOUNT = Decimal("1000000000000")


def _positive(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError("must be greater than 0")
    if value > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT:,}")
    if value != value.quantize(Decimal("1e-8")):
        raise ValueError("has at most 8 decimal places")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError("must not be negative")
    return _positive(value) if value else value


Positive = Annotated[Decimal, AfterValidator(_positive)]
NotNegative = Annotated[Decimal, AfterValidator(_not_negative)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["USD"])]
TransactionType = Literal[
    "buy", "sell", "dividend", "interest", "fee", "deposit", "withdrawal", "split"
]


class AssetIn(RequestModel):
    symbol: AnySymbol
    quantity: Positive = Field(examples=["10"])
    purchase_price: Positive = Field(examples=["150.25"])
    purchase_date: date = Field(examples=["2024-03-01"])


class PortfolioIn(RequestModel):
    name: str = Field(min_length=1, max_length=200, examples=["Retirement"])
    base_currency: Currency = "USD"
    assets: list[AssetIn] = Field(default_factory=list, max_length=5000)


class PortfolioCreate(PortfolioIn):
    account_id: uuid.UUID | None = Field(
        None,
        description="A linked brokerage account of yours for the portfolio to follow: its "
        "activities and holdings are mirrored into the ledger, now and after every sync.",
    )


class FollowIn(RequestModel):
    account_id: uuid.UUID = Field(description="A linked brokerage account of yours.")


SOURCE_FIELD = Field(
    None,
    description="Set on rows mirrored from a followed account (`<accountId>/<the provider's "
    "id>`, or `<accountId>#opening:<symbol>` / `#closing:<symbol>` for reconciliation); "
    "only the sync changes them. Null for rows entered by hand.",
)


class AssetOut(ApiModel):
    lot_id: uuid.UUID
    symbol: str
    quantity: JsonDecimal
    purchase_price: JsonDecimal
    purchase_date: date
    source_transaction_id: str | None = SOURCE_FIELD


class SyncReport(ApiModel):
    """What the last sync from the followed account did to the ledger."""

    mirrored: int = Field(description="Ledger rows the account calls for.")
    added: int
    updated: int
    removed: int
    skipped: int = Field(description="Activities left out (see `notes`).")
    notes: list[str]


class PortfolioOut(ApiModel):
    portfolio_id: uuid.UUID
    name: str
    base_currency: str
    assets: list[AssetOut]
    version: int
    account_id: uuid.UUID | None = Field(None, description="The account it follows, if any.")
    last_synced_at: datetime | None = None
    sync_report: SyncReport | None = None
    created_at: datetime
    updated_at: datetime


class PortfolioSummary(ApiModel):
    portfolio_id: uuid.UUID
    name: str
    base_currency: str
    account_id: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime


class Portfolios(ApiModel):
    portfolios: list[PortfolioSummary]


class TransactionIn(RequestModel):
    date: date
    type: TransactionType
    symbol: AnySymbol | None = None
    quantity: Positive | None = Field(None, description="Units (buy, sell); the ratio (split).")
    price: Positive | None = Field(None, description="Per unit (buy, sell).")
    fee: NotNegative = Decimal(0)
    amount: Positive | None = Field(
        None, description="Cash (dividend, interest, fee, deposit, withdrawal), positive."
    )
    currency: Currency = "USD"

    @model_validator(mode="after")
    def _fields_for_the_type(self) -> TransactionIn:
        needs: dict[str, tuple[str, ...]] = {
            "buy": ("symbol", "quantity", "price"),
            "sell": ("symbol", "quantity", "price"),
            "split": ("symbol", "quantity"),
            "dividend": ("symbol", "amount"),
            "interest": ("amount",),
            "fee": ("amount",),
            "deposit": ("amount",),
            "withdrawal": ("amount",),
        }
        missing = [name for name in needs[self.type] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.type} needs {', '.join(missing)}")
        return self


class TransactionOut(ApiModel):
    transaction_id: uuid.UUID
    date: date
    type: str
    symbol: str | None = None
    quantity: JsonDecimal | None = None
    price: JsonDecimal | None = None
    fee: JsonDecimal
    amount: JsonDecimal | None = None
    currency: str
    source_transaction_id: str | None = SOURCE_FIELD


class Transactions(ApiModel):
    transactions: list[TransactionOut]


class AllocationOut(ApiModel):
    symbol: str
    asset_class: str
    weight: float | None = None
    value: float


class HoldingPerformance(ApiModel):
    symbol: str
    quantity: JsonDecimal
    avg_cost: float | None = None
    price: float | None = None
    value: float
    pnl: float
    pnl_percent: float | None = None
    weight: float | None = None


class SeriesPoint(ApiModel):
    date: date
    value: float
    net_flow: float
    daily_return: float | None = None
    cumulative_return: float
    benchmark_value: float | None = None


class Performance(ApiModel):
    """Figures are not rounded. Conventions: `flint.portfolio.metrics` (252 periods a year;
    TWR chains daily returns with flows at the start of the day; MWR is the XIRR of the flows
    and the final value)."""

    as_of: date
    base_currency: str
    market_value: float
    cost_basis: float
    unrealized_pnl: float
    realized_pnl: float
    dividends: float
    total_return: float | None = None
    twr: float | None = None
    mwr: float | None = None
    annualized_return: float | None = None
    volatility: float | None = None
    sharpe: float | None = None
    sortino: float | None = None
    max_drawdown: float | None = None
    max_drawdown_start: date | None = None
    max_drawdown_end: date | None = None
    beta: float | None = None
    alpha: float | None = None
    benchmark: str
    benchmark_return: float | None = None
    allocation: list[AllocationOut]
    holdings: list[HoldingPerformance]
    series: list[SeriesPoint]


ChartKind = Literal["value", "drawdown", "allocation", "benchmark"]
ChartFormat = Literal["png", "svg"]
