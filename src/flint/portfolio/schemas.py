from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from flint.kit.money import PRICE_STEP, DecimalString, DecimalText
from flint.kit.schema import ApiModel, DecimalRange, RequestModel, Shaped, Side, refused_at
from flint.kit.symbols import AnySymbol
from flint.portfolio.wording import AS_GIVEN, UNITS

MAX_AMOUNT = Decimal("1000000000000")


def _positive(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError("must be greater than 0")
    if value > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT:,}")
    if value != value.quantize(PRICE_STEP):
        raise ValueError("has at most 8 decimal places")
    return value


def _not_negative(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError("must not be negative")
    return _positive(value) if value else value


AMOUNT_DIGITS = 12
"""`MAX_AMOUNT` is ten to this."""
Positive = Annotated[Decimal, AfterValidator(_positive), DecimalRange(Side(AMOUNT_DIGITS))]
NotNegative = Annotated[
    Decimal, AfterValidator(_not_negative), DecimalRange(Side(AMOUNT_DIGITS), zero=True)
]
ISO_CODE = "an ISO 4217 currency code in capitals, such as USD"
Currency = Annotated[str, Shaped("[A-Z]{3}", ISO_CODE), Field(examples=["USD"])]


def _bases(schema: dict[str, Any]) -> None:
    """The documents list the base currencies (the packaged universe's, which every market
    has): a three-letter code such as ``LSQ`` looked valid there and was refused. Imported
    here, when a document is made: `currencies` reads the symbols, which read these schemas."""
    from flint.portfolio.currencies import packaged_bases

    schema["enum"] = packaged_bases()


BaseCurrency = Annotated[str, Shaped("[A-Z]{3}", ISO_CODE), Field(json_schema_extra=_bases)]
"""A portfolio's base currency: one the market converts US dollars into."""
AmountCurrency = Annotated[
    str, Shaped("[A-Z]{3}|GBp", f"{ISO_CODE} (or GBp, pence)"), Field(examples=["EUR"])
]
"""An amount's currency: an ISO 4217 code, or ``GBp`` (pence, as London prices are quoted)."""
BASE = (
    "The currency every figure is in: an ISO 4217 code the market can convert US dollars into "
    "(its FX pairs, directly, inversely or across the dollar); others are 422."
)
NEGATIVE_CASH = (
    "Whether a withdrawal may take the cash below zero. By default one the cash cannot pay (at "
    "its day, in the base currency) is refused with 422 naming the shortfall, and so is a "
    "change that would leave a later withdrawal short."
)
BASE_CURRENCY = Field("USD", description=BASE)
ALLOW_NEGATIVE_CASH = Field(False, description=NEGATIVE_CASH)
TransactionType = Literal[
    "buy", "sell", "dividend", "interest", "fee", "tax", "deposit", "withdrawal", "split"
]


class AssetIn(RequestModel):
    """A lot: a buy. What `GET /portfolio/{portfolioId}` answers for one can be sent back
    (without its `sourceTransactionId`, which only the sync sets)."""

    symbol: AnySymbol
    quantity: Positive = Field(examples=["10"])
    purchase_price: Positive = Field(examples=["150.25"])
    purchase_date: date = Field(examples=["2024-03-01"])
    fee: NotNegative = Field(Decimal(0), description="In the lot's currency.", examples=["1.00"])
    currency: AmountCurrency | None = Field(
        None,
        description="The currency of the price and fee. Default: the symbol's quote currency. "
        "One the market cannot convert is 422.",
        examples=["USD"],
    )


class LotIn(AssetIn):
    """A lot of a replacement (`PUT /portfolio/{portfolioId}`): a new one, or one of the
    portfolio's by its ``lotId``."""

    lot_id: uuid.UUID | None = Field(
        None,
        description="The lot of this portfolio it replaces, which keeps its id (a mirrored "
        "lot's is left as the sync made it); left out or null, a new lot. An id of no lot of "
        "this portfolio is 404.",
        examples=[None],
    )


class PortfolioIn(RequestModel):
    name: str = Field(min_length=1, max_length=200, examples=["Retirement"])
    base_currency: BaseCurrency = BASE_CURRENCY
    allow_negative_cash: bool = ALLOW_NEGATIVE_CASH
    assets: list[AssetIn] = Field(default_factory=list, max_length=5000)


class PortfolioReplace(PortfolioIn):
    assets: list[LotIn] = Field(default_factory=list, max_length=5000)  # type: ignore[assignment]


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
    quantity: DecimalText = Field(description=UNITS, examples=["10"])
    purchase_price: DecimalString = Field(description=AS_GIVEN, examples=["187.25"])
    purchase_date: date = Field(examples=["2024-03-01"])
    fee: DecimalString = Field(description=AS_GIVEN, examples=["1.00"])
    currency: str = Field(description="The currency of the price and fee.", examples=["USD"])
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
    allow_negative_cash: bool = Field(examples=[False])
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


NEEDS: dict[str, tuple[str, ...]] = {
    "buy": ("symbol", "quantity", "price"),
    "sell": ("symbol", "quantity", "price"),
    "split": ("symbol", "quantity"),
    "dividend": ("symbol", "amount"),
    "interest": ("amount",),
    "fee": ("amount",),
    "tax": ("amount",),
    "deposit": ("amount",),
    "withdrawal": ("amount",),
}
"""The fields each transaction type needs (and cannot send as null): the documents say it too."""


class TransactionIn(RequestModel):
    date: date
    type: TransactionType
    symbol: AnySymbol | None = None
    quantity: Positive | None = Field(None, description="Units (buy, sell); the ratio (split).")
    price: Positive | None = Field(None, description="Per unit (buy, sell).")
    fee: NotNegative = Decimal(0)
    amount: Positive | None = Field(
        None,
        description="Cash (dividend, interest, fee, tax, deposit, withdrawal), positive. A "
        "tax (withholding, capital gains) leaves the cash like a fee; with a symbol it is "
        "charged to that position.",
    )
    currency: AmountCurrency | None = Field(
        None,
        description="The currency of price, fee and amount, converted to the portfolio's base "
        "currency at the day's rate. Default: the symbol's quote currency (buy, sell, "
        "dividend, split), else the base currency. One the market cannot convert is 422.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": kind}}},
                    "then": {
                        "required": list(names),
                        "properties": {name: {"not": {"type": "null"}} for name in names},
                    },
                }
                for kind, names in NEEDS.items()
            ]
        }
    )

    @model_validator(mode="after")
    def _fields_for_the_type(self) -> TransactionIn:
        missing = [name for name in NEEDS[self.type] if getattr(self, name) is None]
        if missing:
            raise refused_at(type(self), [(n, f"a {self.type} needs {n}") for n in missing])
        return self


class TransactionOut(ApiModel):
    transaction_id: uuid.UUID = Field(examples=["a3c5e7f9-1b2d-4f6a-8c0e-2b4d6f8a0c1e"])
    date: Annotated[date, Field(examples=["2024-03-01"])]
    type: str = Field(examples=["buy"])
    symbol: str | None = Field(None, examples=["AAPL"])
    quantity: DecimalText | None = Field(None, description=UNITS, examples=["10"])
    price: DecimalString | None = Field(None, description=AS_GIVEN, examples=["187.25"])
    fee: DecimalString = Field(description=AS_GIVEN, examples=["1.00"])
    amount: DecimalString | None = Field(None, description=AS_GIVEN, examples=[None])
    currency: str = Field(examples=["USD"])
    source_transaction_id: Annotated[str | None, Field(examples=[None])] = SOURCE_FIELD


class Transactions(ApiModel):
    transactions: list[TransactionOut]


class TransactionsPage(Transactions):
    next_cursor: str | None = Field(
        description="Asks for the next page (`cursor`); null on the last.",
        examples=["MjAyNC0wMy0wMXwzfDdlNzc"],
    )


class ImportResult(Transactions):
    """What an import added (``transactions``, in the file's order) and what it skipped."""

    skipped: int = Field(
        0, description="Rows not added: the portfolio had imported them before.", examples=[2]
    )
    imported: dict[str, int] = Field(
        default_factory=dict,
        description="How many transactions of each type were added.",
        examples=[{"buy": 3, "dividend": 1}],
    )
