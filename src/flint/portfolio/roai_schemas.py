"""The `roai` block of a portfolio's performance: Ghostfolio's "return on average investment",
for users who compare with it (computed by `flint.portfolio.roai`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

from flint.kit.money import DecimalString, DecimalText
from flint.kit.schema import ApiModel

PERIOD_KEYS = ("1D", "WTD", "MTD", "YTD", "1Y", "5Y", "MAX")
"""Ghostfolio's date ranges (1d, wtd, mtd, ytd, 1y, 5y, max) under the keys of `periods`. It
has no 3-year range, so there is no ``3Y`` here."""

_PERIODS = (
    "Ghostfolio's date ranges under the keys of `periods`: `1D` (1d), `WTD` (wtd, weeks start on "
    "Monday), `MTD` (mtd), `YTD` (ytd), `1Y` (1y), `5Y` (5y), `MAX` (max); Ghostfolio has no 3Y. "
    "A range runs from the end of `start` (the day before it: yesterday for 1D, Sunday for WTD, "
    "the last day of the month or year before for MTD and YTD, the same day one or five years "
    "before for 1Y and 5Y; never before the day before the first activity) to `asOf`."
)

PERIODS_EXAMPLE = {
    "1D": {"start": "2021-12-17", "netPerformance": "10.00", "netPerformancePercentage": 0.0366},
    "MAX": {"start": "2021-11-29", "netPerformance": "23.05", "netPerformancePercentage": 0.0844},
}


class RoaiPeriod(ApiModel):
    start: Annotated[date, Field(examples=["2021-12-17"])] = Field(
        description="The day whose end-of-day figure the range is measured from."
    )
    net_performance: DecimalString = Field(
        description="Net performance at `asOf` less net performance at the end of `start`.",
        examples=["10.00"],
    )
    net_performance_percentage: float = Field(
        description="`netPerformance` over the average investment on the chart days of the "
        "range that hold an investment (Ghostfolio's per-range percentage; 0 without one).",
        examples=[0.0366],
    )


class RoaiPosition(ApiModel):
    symbol: str = Field(examples=["AAPL"])
    quantity: DecimalText = Field(examples=["2"])
    date_of_first_activity: Annotated[date, Field(examples=["2021-11-30"])]
    activities_count: int = Field(
        description="Buys, sells, dividends and fees of the symbol.", examples=[1]
    )
    average_price: DecimalString = Field(
        description="`investment` / `quantity`: average cost WITHOUT fees (Flint's `avgCost` "
        "includes them); 0 once closed.",
        examples=["136.60"],
    )
    market_price: DecimalString = Field(
        description="The price at `asOf` (the last one on or before it).", examples=["148.90"]
    )
    investment: DecimalString = Field(
        description="Cost basis WITHOUT fees of the units held: buys at their price, a sale "
        "removes cost in proportion to the units sold.",
        examples=["273.20"],
    )
    value: DecimalString = Field(examples=["297.80"])
    fee: DecimalString = Field(
        description="Fees of the symbol's buys, sells, dividends and fee transactions.",
        examples=["1.55"],
    )
    dividend: DecimalString = Field(
        description="Dividends received: reported apart, NOT part of the performance "
        "(Flint's `totalReturn` and `realizedPnl`-based figures count them).",
        examples=["0.00"],
    )
    gross_performance: DecimalString = Field(
        description="value - investment + realised gains (sale price - average buy price, "
        "fees left out).",
        examples=["24.60"],
    )
    gross_performance_percentage: float = Field(examples=[0.09004])
    net_performance: DecimalString = Field(
        description="`grossPerformance` - `fee`.", examples=["23.05"]
    )
    net_performance_percentage: float = Field(
        description="`netPerformance` / `timeWeightedInvestment` (the ROAI).", examples=[0.08437]
    )
    time_weighted_investment: DecimalString = Field(
        description="The investment averaged over the days it was held (weighted by days; "
        "days without units do not count).",
        examples=["273.20"],
    )
    periods: dict[str, RoaiPeriod] = Field(description=_PERIODS, examples=[PERIODS_EXAMPLE])


class Roai(ApiModel):
    """Ghostfolio's ROAI ("return on average investment"), computed as its ROAI calculator does
    (in the base currency, each amount at the rate of its own day, which Ghostfolio calls "with
    currency effect"). Where Flint's other figures differ: Flint's `costBasis` includes fees,
    `marketValue` includes cash, `totalReturn` counts dividends and fees; here cash is not in
    `currentValue`, fees are not in `totalInvestment`, dividends are not in the performance,
    and fee transactions count in `fees` but reduce `netPerformance` only when they name a
    held symbol. Deposits, withdrawals and interest play no part. A day without a price takes
    the last price before it (before any, the price of the symbol's last buy or sale)."""

    as_of: Annotated[date, Field(examples=["2021-12-18"])]
    current_value: DecimalString = Field(
        description="Value of the positions at `asOf`, WITHOUT cash (`marketValue` has it).",
        examples=["297.80"],
    )
    total_investment: DecimalString = Field(
        description="Cost basis WITHOUT fees of what is held (`costBasis` includes fees).",
        examples=["273.20"],
    )
    gross_performance: DecimalString = Field(
        description="Sum of the positions' gross performance (fees left out).",
        examples=["24.60"],
    )
    net_performance: DecimalString = Field(
        description="value - investment + realised - fees of the positions' activities; "
        "dividends are NOT included.",
        examples=["23.05"],
    )
    fees: DecimalString = Field(
        description="Every fee in the ledger (trade fees and fee transactions).",
        examples=["1.55"],
    )
    dividends: DecimalString = Field(
        description="Reported apart, not in the performance.", examples=["0.00"]
    )
    time_weighted_investment: DecimalString = Field(
        description="Sum of the positions' day-weighted average investment at `asOf`.",
        examples=["273.20"],
    )
    net_performance_percentage: float = Field(
        description="`netPerformance` / `timeWeightedInvestment` (0 without investment): "
        "the last point of Ghostfolio's chart.",
        examples=[0.08437],
    )
    periods: dict[str, RoaiPeriod] = Field(
        description=_PERIODS + " Portfolio-wide as Ghostfolio's performance endpoint: the "
        "change of the net performance over the range, over the average of the investment "
        "on the range's chart days that hold one.",
        examples=[PERIODS_EXAMPLE],
    )
    positions: list[RoaiPosition] = Field(
        description="Each symbol bought (closed ones included, with quantity 0)."
    )
