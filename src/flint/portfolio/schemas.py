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
    lot_id: uuid.UUID = Field(examples=["c9bf9e57-1685-4c89-bafb-ff5af830be8a"])
    symbol: str = Field(examples=["AAPL"])
    quantity: JsonDecimal = Field(examples=[10])
    purchase_price: JsonDecimal = Field(examples=[187.25])
    purchase_date: date = Field(examples=["2024-03-01"])
    source_transaction_id: Annotated[str | None, Field(examples=[None])] = SOURCE_FIELD


class SyncReport(ApiModel):
    """What the last sync from the followed account did to the ledger."""

    mirrored: int = Field(description="Ledger rows the account calls for.", examples=[24])
    added: int = Field(examples=[3])
    updated: int = Field(examples=[1])
    removed: int = Field(examples=[0])
    skipped: int = Field(description="Activities left out (see `notes`).", examples=[1])
    notes: list[str] = Field(examples=[["BRK.B: no price for its opening balance; skipped"]])


class PortfolioOut(ApiModel):
    portfolio_id: uuid.UUID = Field(examples=["8f14e45f-ceea-4e7a-9b3d-2c1a6b7e9d10"])
    name: str = Field(examples=["Retirement"])
    base_currency: str = Field(examples=["USD"])
    assets: list[AssetOut]
    version: int = Field(examples=[7])
    account_id: uuid.UUID | None = Field(
        None,
        description="The account it follows, if any.",
        examples=["5b0d7c1e-3f4a-4d2b-9c8e-7a6f5e4d3c2b"],
    )
    last_synced_at: datetime | None = Field(None, examples=["2024-06-03T14:30:00Z"])
    sync_report: SyncReport | None = None
    created_at: datetime = Field(examples=["2024-01-15T09:20:03Z"])
    updated_at: datetime = Field(examples=["2024-06-03T14:30:00Z"])


class PortfolioSummary(ApiModel):
    portfolio_id: uuid.UUID = Field(examples=["8f14e45f-ceea-4e7a-9b3d-2c1a6b7e9d10"])
    name: str = Field(examples=["Retirement"])
    base_currency: str = Field(examples=["USD"])
    account_id: uuid.UUID | None = Field(None, examples=["5b0d7c1e-3f4a-4d2b-9c8e-7a6f5e4d3c2b"])
    created_at: datetime = Field(examples=["2024-01-15T09:20:03Z"])
    updated_at: datetime = Field(examples=["2024-06-03T14:30:00Z"])


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
    transaction_id: uuid.UUID = Field(examples=["a3c5e7f9-1b2d-4f6a-8c0e-2b4d6f8a0c1e"])
    date: Annotated[date, Field(examples=["2024-03-01"])]
    type: str = Field(examples=["buy"])
    symbol: str | None = Field(None, examples=["AAPL"])
    quantity: JsonDecimal | None = Field(None, examples=[10])
    price: JsonDecimal | None = Field(None, examples=[187.25])
    fee: JsonDecimal = Field(examples=[1.0])
    amount: JsonDecimal | None = Field(None, examples=[None])
    currency: str = Field(examples=["USD"])
    source_transaction_id: Annotated[str | None, Field(examples=[None])] = SOURCE_FIELD


class Transactions(ApiModel):
    transactions: list[TransactionOut]


class AllocationOut(ApiModel):
    symbol: str = Field(examples=["VTI"])
    asset_class: str = Field(examples=["etf"])
    weight: float | None = Field(None, examples=[0.6248])
    value: float = Field(examples=[11395.53])


class HoldingPerformance(ApiModel):
    symbol: str = Field(examples=["AAPL"])
    quantity: JsonDecimal = Field(examples=[10])
    avg_cost: float | None = Field(None, examples=[187.25])
    price: float | None = Field(None, examples=[189.84])
    value: float = Field(examples=[1898.4])
    pnl: float = Field(examples=[25.9])
    pnl_percent: float | None = Field(None, examples=[0.0138])
    weight: float | None = Field(None, examples=[0.1041])


class SeriesPoint(ApiModel):
    date: Annotated[date, Field(examples=["2024-06-03"])]
    value: float = Field(examples=[18238.61])
    net_flow: float = Field(examples=[0.0])
    daily_return: float | None = Field(None, examples=[0.0042])
    cumulative_return: float = Field(examples=[0.0735])
    benchmark_value: float | None = Field(None, examples=[5283.4])


class DataStatus(ApiModel):
    """Whether every daily close the figures need is stored. A fresh import's history is
    stored in the background (a few seconds for a decade of hundreds of symbols); until then
    the figures are computed from what is stored (a symbol without its closes is valued at its
    cost), `complete` is false and the answer is not cached."""

    complete: bool = Field(True, examples=[False])
    missing_symbols: list[str] = Field(
        default_factory=list,
        examples=[["AAPL", "MSFT"]],
        description="Symbols whose closes are still being stored.",
    )
    progress: float = Field(
        1.0,
        examples=[0.42],
        description="The share of the portfolio's symbols (with the benchmark and FX pairs) "
        "whose closes are stored, from 0 to 1.",
    )


class Performance(ApiModel):
    """Figures are not rounded. Conventions: `flint.portfolio.metrics` (252 periods a year;
    TWR chains daily returns with flows at the start of the day; MWR is the XIRR of the flows
    and the final value)."""

    as_of: date = Field(examples=["2024-06-03"])
    base_currency: str = Field(examples=["USD"])
    market_value: float = Field(examples=[18238.61])
    cost_basis: float = Field(examples=[16990.0])
    unrealized_pnl: float = Field(examples=[1248.61])
    realized_pnl: float = Field(examples=[312.4])
    dividends: float = Field(examples=[86.12])
    total_return: float | None = Field(None, examples=[0.0735])
    twr: float | None = Field(None, examples=[0.0712])
    mwr: float | None = Field(None, examples=[0.0698])
    annualized_return: float | None = Field(None, examples=[0.1734])
    volatility: float | None = Field(None, examples=[0.1421])
    sharpe: float | None = Field(None, examples=[1.08])
    sortino: float | None = Field(None, examples=[1.52])
    max_drawdown: float | None = Field(None, examples=[-0.0587])
    max_drawdown_start: date | None = Field(None, examples=["2024-03-28"])
    max_drawdown_end: date | None = Field(None, examples=["2024-04-19"])
    beta: float | None = Field(None, examples=[0.94])
    alpha: float | None = Field(None, examples=[0.0123])
    benchmark: str = Field(examples=["SPY"])
    benchmark_return: float | None = Field(None, examples=[0.1089])
    allocation: list[AllocationOut]
    holdings: list[HoldingPerformance]
    series: list[SeriesPoint]
    data_status: DataStatus = Field(default_factory=DataStatus)


ChartKind = Literal["value", "drawdown", "allocation", "benchmark"]
ChartFormat = Literal["png", "svg"]
