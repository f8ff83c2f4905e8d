"""The response models of the figures users look for first (periods, totals, closed positions,
grouped allocation, drawdown), each with its convention beside it. Money is a decimal string
at the base currency's precision, from the Decimal ledger; ratios and returns are floats."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from flint.kit.money import DecimalString
from flint.kit.schema import ApiModel

GroupBy = Literal["symbol", "assetClass", "currency", "sector"]

ANNUALISED = "Null for periods shorter than 365 days (a short period is never annualised)."


class PeriodOut(ApiModel):
    """One period of `periods`: from the close of its base day (`start`) to the window's last
    valued day. `MAX` without a window `start` opens on the first day's flows instead
    (`startValue` 0)."""

    start: date = Field(
        description="The base day: the period starts from its closing value.",
        examples=["2024-05-31"],
    )
    days: int = Field(description="Calendar days from `start` to the last day.", examples=[3])
    twr: float | None = Field(
        None,
        description="Time-weighted return over the period (the series' daily returns chained).",
        examples=[0.0123],
    )
    mwr: float | None = Field(
        None,
        description="Money-weighted return over the period: `(1 + x) ** (days / 365) - 1` "
        "from the XIRR `x` of the period's flows and its end value; null without a root.",
        examples=[0.0119],
    )
    annualized_twr: float | None = Field(
        None,
        description="`(1 + twr) ** (365 / days) - 1`. " + ANNUALISED,
        examples=[None],
    )
    annualized_mwr: float | None = Field(
        None, description="The XIRR (actual/365). " + ANNUALISED, examples=[None]
    )
    absolute_gain: DecimalString = Field(
        description="`endValue - startValue - netFlows`.", examples=["412.35"]
    )
    net_flows: DecimalString = Field(
        description="External flows after the base day: deposits less withdrawals, plus buys "
        "funded from outside.",
        examples=["1000.00"],
    )
    start_value: DecimalString = Field(examples=["16826.26"])
    end_value: DecimalString = Field(examples=["18238.61"])


class TotalsOut(ApiModel):
    """Tallies over the window (the days from `start`, or the whole ledger), and the state at
    its end. In the base currency; each transaction converted at its own day's rate."""

    fees: DecimalString = Field(
        description="Trade fees (buys and sales) and fee transactions.", examples=["12.50"]
    )
    interest: DecimalString = Field(examples=["4.10"])
    taxes: DecimalString = Field(description="Tax transactions.", examples=["15.00"])
    dividends: DecimalString = Field(examples=["86.12"])
    realized_pnl: DecimalString = Field(
        description="Sales' proceeds less fees less their average cost (buy fees included).",
        examples=["312.40"],
    )
    deposits: DecimalString = Field(examples=["20000.00"])
    withdrawals: DecimalString = Field(examples=["2000.00"])
    net_contributions: DecimalString = Field(
        description="Deposits less withdrawals plus buys the cash could not pay for (funded "
        "from outside): the sum of the external flows. The opening value of a later window "
        "is not in it.",
        examples=["18000.00"],
    )
    cash: DecimalString = Field(description="Cash at the end.", examples=["1012.40"])
    cost_basis: DecimalString = Field(
        description="Average cost of the units held at the end, buy fees included.",
        examples=["16990.00"],
    )
    cost_basis_without_fees: DecimalString = Field(
        description="The same without the buy fees.", examples=["16980.00"]
    )
    net_gain: DecimalString = Field(
        description="End value less opening value less net contributions: the gain after "
        "every fee and tax (the `MAX` period's `absoluteGain`).",
        examples=["1248.61"],
    )
    gross_gain: DecimalString = Field(
        description="`netGain + fees`: the gain before fees (taxes stay deducted).",
        examples=["1261.11"],
    )


class ClosedPosition(ApiModel):
    """A symbol held in the window and no longer held at its end."""

    symbol: str = Field(examples=["TSLA"])
    name: str | None = Field(None, examples=["Tesla, Inc."])
    currency: str = Field(description="The currency it trades in.", examples=["USD"])
    first_buy_date: date | None = Field(None, examples=["2023-02-01"])
    closed_on: date | None = Field(None, description="Its last sale.", examples=["2024-04-12"])
    realized_pnl: DecimalString = Field(
        description="Realised in the window (average cost, fees included).", examples=["250.00"]
    )
    dividends: DecimalString = Field(examples=["3.20"])
    fees: DecimalString = Field(
        description="Its trade fees and the fee transactions charged to it.", examples=["2.00"]
    )
    taxes: DecimalString = Field(examples=["0.00"])
    result: DecimalString = Field(
        description="`realizedPnl + dividends` less the fees and taxes charged to it outside "
        "trades: what the position earned in the window.",
        examples=["253.20"],
    )
    twr: float | None = Field(None, examples=[0.12])
    mwr: float | None = Field(None, examples=[0.11])
    irr: float | None = Field(None, examples=[None])


class AllocationGroup(ApiModel):
    key: str | None = Field(
        description="The group: a symbol (the base currency for cash), an asset class "
        "(`cash` for cash), a currency, or a sector (`Cash` for cash; null where none is "
        "known: crypto, FX, custom assets).",
        examples=["Information Technology"],
    )
    value: DecimalString = Field(examples=["5210.40"])
    weight: float | None = Field(None, description="Of the market value.", examples=[0.2857])
    symbols: list[str] = Field(examples=[["AAPL", "MSFT"]])


class DrawdownOut(ApiModel):
    """On the time-weighted index of the window (the one `maxDrawdown` is measured on):
    drawdown at a day is the index over its running peak less 1. Durations are calendar
    days."""

    max: float | None = Field(None, description="`maxDrawdown`.", examples=[-0.0587])
    max_start: date | None = Field(None, description="Its peak.", examples=["2024-03-28"])
    max_end: date | None = Field(None, description="Its trough.", examples=["2024-04-19"])
    max_recovered_on: date | None = Field(
        None,
        description="The first day after the trough back at the peak; null if not yet.",
        examples=["2024-05-15"],
    )
    days_to_recover: int | None = Field(
        None, description="From the trough to the recovery; null if not yet.", examples=[26]
    )
    current: float | None = Field(
        None, description="Drawdown at the last day (0 at a peak).", examples=[-0.0121]
    )
    current_since: date | None = Field(
        None, description="The peak the current drawdown is from.", examples=["2024-05-30"]
    )
    longest_start: date | None = Field(
        None, description="The peak of the longest drawdown.", examples=["2024-03-28"]
    )
    longest_end: date | None = Field(
        None,
        description="Its recovery; null while it lasts (it is then the current one).",
        examples=["2024-05-15"],
    )
    longest_days: int | None = Field(
        None, description="From its peak to its recovery (or the last day).", examples=[48]
    )
