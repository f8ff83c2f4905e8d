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

from flint.portfolio._xirr import _xirr_rows
from flint.portfolio.currencies import major
from flint.portfolio.figure_schemas import ClosedPosition
from flint.portfolio.performance_schemas import HoldingPerformance
from flint.portfolio.periods import YEAR_DAYS, Opening
from flint.portfolio.replay import Replay, in_currency
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


def _ratio(num: float, den: float) -> float:
    return num / den if den != 0.0 else 1.0


def returns(valued: Valuation, run: Replay, opens: Opening | None) -> dict[str, Returns]:
    """Every symbol's returns over the window (see the module docstring). Between its own
    trading days a position's daily returns telescope to the ratio of the values at both ends,
    so only those days are read from the valuation."""
    if opens is None or not valued.symbols:
        return {}
    first, last = opens.first, len(valued.dates) - 1
    row = {day: i for i, day in enumerate(valued.dates) if i >= first}
    events: dict[str, list[tuple[int, float, float]]] = {s: [] for s in valued.symbols}
    for (day, symbol), (paid, received) in run.trades.items():  # in ledger order
        at = row.get(day)
        if at is not None and not (opens.opened and at == first):
            events[symbol].append((at, float(paid), float(received)))
    q, p, dates = valued.quantities, valued.prices, valued.dates
    out: dict[str, Returns] = {}
    for col, symbol in enumerate(valued.symbols):

        def worth(i: int, col: int = col) -> float:
            return float(q[i, col] * p[i, col]) if i >= first else 0.0

        growth, since = 1.0, first  # the start of the stretch without trades being crossed
        amounts = [-worth(first)] if opens.opened else []
        when = [dates[first]] if opens.opened else []
        for at, bought, got in events[symbol]:
            if at > since:
                growth *= _ratio(worth(at - 1), worth(since))
            growth *= _ratio(worth(at) + got, worth(at - 1) + bought)
            since = at
            amounts.append(got - bought)
            when.append(dates[at])
        growth *= _ratio(worth(last), worth(since)) if last > since else 1.0
        amounts.append(worth(last))
        when.append(dates[last])
        flowing = [d for d, a in zip(when, amounts, strict=True) if a != 0.0]
        days = (flowing[-1] - flowing[0]).days if flowing else 0
        x = None
        if days > 0:
            years = [(d - when[0]).days / YEAR_DAYS for d in when]
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                x = _xirr_rows(np.array([amounts]), years)[0]
        out[symbol] = Returns(
            twr=_finite(growth - 1.0),
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
                    "currency": major(book.currency(row.symbol))[0],
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
                currency=major(book.currency(symbol))[0],
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
