"""The figures users look for first, beside the metrics: every period at once, the totals,
each position's own figures and the closed ones, the allocation grouped, and the drawdown
beyond its maximum. All from the one daily valuation and one Decimal replay of the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flint.portfolio import allocation, drawdown, holdings, periods
from flint.portfolio.figure_schemas import TotalsOut
from flint.portfolio.performance import Inputs, Window
from flint.portfolio.performance_schemas import HoldingPerformance
from flint.portfolio.replay import ZERO, Replay, in_currency, replay
from flint.portfolio.valuation import Valuation


@dataclass(frozen=True)
class Breakdown:
    run: Replay
    holdings: list[HoldingPerformance]
    fields: dict[str, Any]
    """The `Performance` fields this module answers."""


def totals(run: Replay, net_gain: Any, base: str) -> TotalsOut:
    """The window's tallies, each exact and rounded once; the cost basis of what is held is
    the sum of the holdings' rows, each rounded (as the answer's own ``costBasis`` is: rounded
    once, the total was a cent off the top's beside it)."""
    t = run.totals
    held = [h for h in run.holdings.values() if h.quantity]
    cost = sum((in_currency(h.cost, base) for h in held), in_currency(ZERO, base))
    cost_ex = sum((in_currency(h.cost_ex_fees, base) for h in held), in_currency(ZERO, base))
    fees = in_currency(t.fees, base)
    return TotalsOut(
        fees=fees,
        interest=in_currency(t.interest, base),
        taxes=in_currency(t.taxes, base),
        dividends=in_currency(t.dividends, base),
        realized_pnl=in_currency(t.realized, base),
        deposits=in_currency(t.deposits, base),
        withdrawals=in_currency(t.withdrawals, base),
        net_contributions=in_currency(t.net_contributions, base),
        cash=in_currency(run.cash_at_end, base),
        cost_basis=cost,
        cost_basis_without_fees=cost_ex,
        net_gain=net_gain,
        gross_gain=net_gain + fees,
    )


def build(
    got: Inputs,
    valued: Valuation,
    window: Window,
    shown: tuple[Any, Any, list[Any]],
    rows: list[HoldingPerformance],
    base: str,
) -> Breakdown:
    """``shown``: the window's values, flows and dates, as the metrics take them."""
    run = replay(got.entries, window.end, window.start)
    table = periods.table(valued, run, window.start, window.end, base)
    opens = periods.opening(valued, window.start)
    by_symbol = holdings.returns(valued, run, opens)
    last = (
        dict(zip(valued.symbols, valued.prices[-1].tolist(), strict=True)) if valued.dates else {}
    )
    whole = table.get("MAX")
    return Breakdown(
        run,
        holdings.extend(rows, run, got.book, by_symbol, base),
        {
            "periods": table,
            "totals": totals(run, whole.absolute_gain if whole else ZERO, base),
            "closed_positions": holdings.closed(run, got.book, by_symbol, base),
            "group_by": window.group_by,
            "allocation_groups": allocation.groups(run, last, got.book, window.group_by, base),
            "drawdown": drawdown.figures(*shown),
        },
    )
