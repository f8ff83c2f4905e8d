"""What a portfolio's performance answers: its holdings, allocation, daily series, data status
and figures (`Performance`), and the charts' kinds and formats."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from flint.kit.money import DecimalString, DecimalText
from flint.kit.schema import ApiModel
from flint.portfolio.figure_schemas import (
    AllocationGroup,
    ClosedPosition,
    DrawdownOut,
    GroupBy,
    PeriodOut,
    TotalsOut,
)
from flint.portfolio.roai_schemas import Roai
from flint.portfolio.wording import MONEY, PRICE, RATIO, SCALED, UNITS


class AllocationOut(ApiModel):
    symbol: str = Field(examples=["VTI"])
    asset_class: str = Field(examples=["etf"])
    weight: float | None = Field(None, description=RATIO, examples=[0.6248])
    value: DecimalString = Field(description=MONEY, examples=["11395.53"])


class HoldingPerformance(ApiModel):
    symbol: str = Field(examples=["AAPL"])
    quantity: DecimalText = Field(description=UNITS, examples=["10"])
    avg_cost: DecimalString | None = Field(None, description=PRICE, examples=["187.25"])
    price: DecimalString | None = Field(None, description=PRICE, examples=["189.84"])
    value: DecimalString = Field(description=MONEY, examples=["1898.40"])
    pnl: DecimalString = Field(description=MONEY, examples=["25.90"])
    pnl_percent: float | None = Field(None, description=RATIO, examples=[0.0138])
    weight: float | None = Field(None, description=RATIO, examples=[0.1041])
    name: str | None = Field(None, examples=["Apple Inc."])
    currency: str | None = Field(
        None,
        description="The currency it trades in (figures are in the base currency).",
        examples=["USD"],
    )
    cost_basis: DecimalString | None = Field(
        None,
        description="Average cost of the units held, buy fees included.",
        examples=["1872.50"],
    )
    cost_basis_without_fees: DecimalString | None = Field(None, examples=["1871.50"])
    realized_pnl: DecimalString | None = Field(
        None,
        description="Realised in the window (average cost, fees included); `pnl` is "
        "the unrealised P&L.",
        examples=["120.00"],
    )
    dividends: DecimalString | None = Field(None, examples=["9.60"])
    fees: DecimalString | None = Field(
        None,
        description="Its trade fees and the fee transactions charged to it, in the window.",
        examples=["1.00"],
    )
    taxes: DecimalString | None = Field(None, examples=["0.00"])
    first_buy_date: date | None = Field(None, examples=["2024-03-01"])
    twr: float | None = Field(
        None,
        description="Its own time-weighted return over the window: buys at the start "
        "of their day, sales and dividends at its end.",
        examples=[0.0138],
    )
    mwr: float | None = Field(
        None,
        description="Its money-weighted return over the window, not annualised: "
        "`(1 + irr) ** (days / 365) - 1` over the days from its first flow to the end.",
        examples=[0.0135],
    )
    irr: float | None = Field(
        None,
        description="The XIRR of its flows and its end value (actual/365). Null when "
        "they span less than 365 days.",
        examples=[None],
    )


class SeriesPoint(ApiModel):
    date: Annotated[date, Field(examples=["2024-06-03"])]
    value: DecimalString = Field(
        description=MONEY + " The holdings (valued in float64, as the metrics read them) "
        "rounded to the minor unit plus the exact cash; the last point is `marketValue`.",
        examples=["18238.61"],
    )
    net_flow: DecimalString = Field(description=MONEY, examples=["0.00"])
    daily_return: float | None = Field(None, description=RATIO, examples=[0.0042])
    cumulative_return: float = Field(description=RATIO, examples=[0.0735])
    benchmark_value: DecimalString | None = Field(
        None,
        description="The benchmark's close in the base currency (the stored close at its "
        "day's rate, as the holdings are valued): a decimal string.",
        examples=["5283.40"],
    )


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
    """Money (values, costs, P&L, cash, dividends, prices, units) is a decimal string, exact
    and rounded to the base currency's minor unit (prices: their own precision); ratios and
    returns are JSON numbers, not rounded. Conventions: `flint.portfolio.metrics` (252 periods
    a year; TWR chains daily returns with flows at the start of the day; MWR comes from the
    XIRR of the flows and the final value). Returns are over the window (`twr`, `mwr`), a rate
    a year only where the name says so. Valuation days: the listed symbols' sessions, the days
    a custom asset has a price (and the window's end, for a portfolio holding one), every
    calendar day for a ledger of cash alone. Annualised figures (`annualizedReturn`,
    `annualizedMwr`, `alpha`) need a window of a year or more, null otherwise.

    Beside them: `periods` (1D, WTD, MTD, YTD, 1Y, 3Y, 5Y, MAX from the one daily series;
    annualised forms only for periods of at least 365 days), `totals` (fees, interest, taxes,
    net contributions, cash, cost basis with and without fees, gain gross and net of fees),
    each holding's own figures and returns, `closedPositions`, `allocationGroups` grouped by
    `groupBy` (symbol, assetClass, currency, sector), `drawdown` (current, longest, time to
    recover) and Ghostfolio's `roai`. A window (`start`, `end`) applies to every figure: what
    is tallied (realised P&L, dividends, fees, interest, taxes, flows) counts the window's days
    only; positions and cash are the state at its end. See docs/api.md."""

    as_of: date = Field(examples=["2024-06-03"])
    base_currency: str = Field(examples=["USD"])
    market_value: DecimalString = Field(
        description=MONEY + " Holdings plus cash.", examples=["18238.61"]
    )
    cost_basis: DecimalString = Field(description=MONEY, examples=["16990.00"])
    unrealized_pnl: DecimalString = Field(
        description=MONEY + " The holdings' value less their cost basis.", examples=["1248.61"]
    )
    realized_pnl: DecimalString = Field(description=MONEY, examples=["312.40"])
    dividends: DecimalString = Field(description=MONEY, examples=["86.12"])
    total_return: float | None = Field(None, description=RATIO, examples=[0.0735])
    twr: float | None = Field(
        None,
        description=RATIO + " The time-weighted return over the window (its daily returns "
        "chained): the `MAX` period's `twr`.",
        examples=[0.0712],
    )
    mwr: float | None = Field(
        None,
        description=RATIO + " The money-weighted return over the window, not annualised, "
        "like `twr`: `(1 + x) ** (days / 365) - 1` from the XIRR `x` of the window's flows and "
        "its end value (the `MAX` period's `mwr`); null without a root.",
        examples=[0.0698],
    )
    annualized_mwr: float | None = Field(
        None,
        description=RATIO + " The XIRR `x` itself (actual/365), for a window of a year or more "
        "(the `MAX` period's `annualizedMwr`); null otherwise.",
        examples=[None],
    )
    annualized_return: float | None = Field(
        None,
        description=RATIO + " The TWR compounded over calendar time, "
        "`(1 + twr) ** (365 / days) - 1`; null for a window shorter than a year.",
        examples=[0.1734],
    )
    volatility: float | None = Field(None, description=SCALED, examples=[0.1421])
    sharpe: float | None = Field(None, description=SCALED, examples=[1.08])
    sortino: float | None = Field(None, description=SCALED, examples=[1.52])
    max_drawdown: float | None = Field(None, examples=[-0.0587])
    max_drawdown_start: date | None = Field(None, examples=["2024-03-28"])
    max_drawdown_end: date | None = Field(None, examples=["2024-04-19"])
    beta: float | None = Field(None, examples=[0.94])
    alpha: float | None = Field(
        None,
        description=RATIO + " Annualised; null for a window shorter than a year.",
        examples=[0.0123],
    )
    benchmark: str = Field(examples=["SPY"])
    benchmark_return: float | None = Field(
        None,
        description=RATIO + " The benchmark's return over the window in the base currency "
        "(`benchmarkValue`: what the portfolio's money would have made in it, currency moves "
        "included); `beta` and `alpha` are against it.",
        examples=[0.1089],
    )
    allocation: list[AllocationOut]
    holdings: list[HoldingPerformance]
    series: list[SeriesPoint]
    roai: Roai | None = Field(
        None,
        description="Ghostfolio's ROAI (return on average investment) with Ghostfolio's "
        "definitions, for users coming from it; null for an empty ledger. See `Roai`.",
    )
    periods: dict[str, PeriodOut] = Field(
        default_factory=dict,
        description="`1D`, `WTD`, `MTD`, `YTD`, `1Y`, `3Y`, `5Y`, `MAX`, within the window "
        "(a period reaching before it is `MAX`).",
        examples=[
            {
                "MTD": {
                    "start": "2024-05-31",
                    "days": 3,
                    "twr": 0.0123,
                    "mwr": 0.0119,
                    "annualizedTwr": None,
                    "annualizedMwr": None,
                    "absoluteGain": "412.35",
                    "netFlows": "1000.00",
                    "startValue": "16826.26",
                    "endValue": "18238.61",
                }
            }
        ],
    )
    totals: TotalsOut | None = None
    closed_positions: list[ClosedPosition] = Field(default_factory=list)
    group_by: GroupBy = Field("symbol", description="How `allocationGroups` is grouped.")
    allocation_groups: list[AllocationGroup] = Field(default_factory=list)
    drawdown: DrawdownOut | None = None
    data_status: DataStatus = Field(default_factory=DataStatus)


ChartKind = Literal["value", "drawdown", "allocation", "benchmark"]
ChartFormat = Literal["png", "svg"]
