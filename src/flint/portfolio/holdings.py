"""Each position's own figures: its name and currency, the money from the Decimal ledger
(`replay`), and its own time- and money-weighted returns over the window, all positions at
once on the one daily valuation (its units times the closes used).

A position's returns see it as an account of its own: money goes in with its buys (fees
included) at the start of their day and comes out with its sales (net of fees) and
dividends at the end of theirs, less the fees and taxes charged to the symbol. Its daily
return is ``(V_t + out_t) / (V_{t-1} + in_t) - 1`` (0 where nothing is invested), ``twr``
chains them; ``mwr`` and ``irr`` come from the XIRR ``x`` of ``-in``, ``+out`` and the end
value (a later window opens with the value at the close before it): ``mwr`` =
``(1 + x) ** (days / 365) - 1`` over the days from its first to its last flow, ``irr`` = ``x``
only when those are at least 365 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from flint.portfolio._xirr import DAYS_PER_YEAR, _xirr_rows
from flint.portfolio.figure_schemas import ClosedPosition
from flint.portfolio.periods import YEAR_DAYS, Opening
from flint.portfolio.replay import Replay, in_currency
from flint.portfolio.schemas import HoldingPerformance
from flint.portfolio.symbols import SymbolBook
from flint.portfolio.valuation import Valuation

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Returns:
    twr: float | None
    mwr: float | None
    irr: float | None


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def returns(valued: Valuation, run: Replay, opens: Opening | None) -> dict[str, Returns]:
    """Every symbol's returns over the window (see the module docstring)."""
    if opens is None or not valued.symbols:
        return {}
    column = {symbol: i for i, symbol in enumerate(valued.symbols)}
    row = {day: i for i, day in enumerate(valued.dates)}
    n, m = valued.quantities.shape
    money_in, money_out = np.zeros((n, m)), np.zeros((n, m))
    for (day, symbol), (paid, received) in run.trades.items():
        money_in[row[day], column[symbol]] += float(paid)
        money_out[row[day], column[symbol]] += float(received)
    first = opens.first
    worth = (valued.quantities * valued.prices)[first:].T
    into, out_of = money_in[first:].T.copy(), money_out[first:].T.copy()
    if opens.opened:
        into[:, 0] = out_of[:, 0] = 0.0
    before = np.concatenate([np.zeros((m, 1)), worth[:, :-1]], axis=1) + into
    with np.errstate(divide="ignore", invalid="ignore"):
        daily = np.where(before != 0.0, (worth + out_of) / before - 1.0, 0.0)
    if opens.opened:
        daily[:, 0] = 0.0
    growth = np.prod(1.0 + daily, axis=1) - 1.0
    dates = valued.dates[first:]
    amounts = out_of - into
    if opens.opened:
        amounts[:, 0] = -worth[:, 0]
    amounts[:, -1] += worth[:, -1]
    cols = np.flatnonzero(amounts.any(axis=0))
    day0 = dates[cols[0]] if len(cols) else dates[0]
    years = [(dates[c] - day0).days / DAYS_PER_YEAR for c in cols.tolist()]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        rates = _xirr_rows(amounts[:, cols], years) if len(cols) else [None] * m
    out: dict[str, Returns] = {}
    for symbol, i in column.items():
        flowing = np.flatnonzero(amounts[i])
        days = (dates[flowing[-1]] - dates[flowing[0]]).days if len(flowing) else 0
        x = rates[i]
        out[symbol] = Returns(
            twr=_finite(float(growth[i])),
            mwr=_finite(math.pow(1.0 + x, days / YEAR_DAYS) - 1.0) if x is not None else None,
            irr=x if days >= YEAR_DAYS else None,
        )
    return out


def name(book: SymbolBook, symbol: str) -> str | None:
    if symbol in book.custom:
        return book.custom[symbol].name
    known = book.market.instrument(symbol)
    return known.name if known else None


def extend(
    rows: list[HoldingPerformance],
    run: Replay,
    book: SymbolBook,
    by_symbol: dict[str, Returns],
    base: str,
) -> list[HoldingPerformance]:
    """The rows of the positions held, with their own figures."""
    out = []
    for row in rows:
        h = run.holdings[row.symbol]
        got = by_symbol.get(row.symbol, Returns(None, None, None))
        out.append(
            row.model_copy(
                update={
                    "name": name(book, row.symbol),
                    "currency": book.currency(row.symbol)[0],
                    "cost_basis": in_currency(h.cost, base),
                    "cost_basis_without_fees": in_currency(h.cost_ex_fees, base),
                    "realized_pnl": in_currency(h.realized, base),
                    "dividends": in_currency(h.dividends, base),
                    "fees": in_currency(h.fees, base),
                    "taxes": in_currency(h.taxes, base),
                    "first_buy_date": h.first_buy,
                    "twr": got.twr,
                    "mwr": got.mwr,
                    "irr": got.irr,
                }
            )
        )
    return out


def closed(
    run: Replay, book: SymbolBook, by_symbol: dict[str, Returns], base: str
) -> list[ClosedPosition]:
    """The positions held (or traded) in the window and no longer held at its end."""
    out = []
    for symbol, h in sorted(run.holdings.items()):
        if h.quantity != 0 or h.first_buy is None or not h.touched:
            continue
        got = by_symbol.get(symbol, Returns(None, None, None))
        charges = h.charged_fees + h.taxes
        out.append(
            ClosedPosition(
                symbol=symbol,
                name=name(book, symbol),
                currency=book.currency(symbol)[0],
                first_buy_date=h.first_buy,
                closed_on=h.last_sell,
                realized_pnl=in_currency(h.realized, base),
                dividends=in_currency(h.dividends, base),
                fees=in_currency(h.fees, base),
                taxes=in_currency(h.taxes, base),
                result=in_currency(h.realized + h.dividends - charges, base),
                twr=got.twr,
                mwr=got.mwr,
                irr=got.irr,
            )
        )
    return out
