"""Tax lots by FIFO (first in, first out), from the ledger in the base currency.

Conventions (stated in every tax-lot report, because the portfolio's own ``realizedPnl`` uses
average cost and the two differ whenever a position was bought at several prices):

* Each buy opens a lot; its cost basis is ``quantity x price + fee``.
* A sale closes the oldest open lots of its symbol first. Its proceeds ``quantity x price -
  fee`` are shared among the lots it closes in proportion to the units taken from each; the
  cost taken from a lot is its cost basis in proportion to the units taken.
* A split multiplies the units of every open lot and keeps its cost basis and acquisition date.
* Term: long when the lot was held more than one year (disposed of after the anniversary of its
  acquisition; a 29 February acquisition has its anniversary on 28 February), short otherwise.
  Open lots are judged on the report's end date.
* Amounts are in the portfolio's base currency: purchase and sale prices are converted at the
  rate of their own day (as the performance figures do), current values at the last close.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from flint.portfolio.api import Entry

Term = Literal["short", "long"]


@dataclass(frozen=True)
class OpenLot:
    symbol: str
    acquired: date
    quantity: Decimal
    cost: Decimal
    price: Decimal | None
    """The last close in the base currency; None when the symbol has none."""
    term: Term

    @property
    def value(self) -> Decimal | None:
        return None if self.price is None else self.quantity * self.price

    @property
    def gain(self) -> Decimal | None:
        worth = self.value
        return None if worth is None else worth - self.cost


@dataclass(frozen=True)
class ClosedLot:
    symbol: str
    acquired: date
    sold: date
    quantity: Decimal
    proceeds: Decimal
    cost: Decimal
    term: Term

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.cost


@dataclass(frozen=True)
class Lots:
    open: list[OpenLot]
    closed: list[ClosedLot]


@dataclass
class _Lot:
    acquired: date
    quantity: Decimal
    cost: Decimal


def anniversary(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1) - timedelta(days=1)


def term(acquired: date, disposed: date) -> Term:
    return "long" if disposed > anniversary(acquired) else "short"


def fifo(entries: Sequence[Entry], prices: Mapping[str, Decimal], as_of: date) -> Lots:
    """Replay ``entries`` (ledger order, base currency) up to ``as_of``; ``prices`` are the
    current prices of the symbols held."""
    held: dict[str, deque[_Lot]] = {}
    closed: list[ClosedLot] = []
    for entry in entries:
        if entry.date > as_of or entry.symbol is None or entry.quantity is None:
            continue
        queue = held.setdefault(entry.symbol, deque())
        if entry.type == "buy":
            assert entry.price is not None
            queue.append(_Lot(entry.date, entry.quantity, entry.quantity * entry.price + entry.fee))
        elif entry.type == "split":
            for lot in queue:
                lot.quantity *= entry.quantity
        elif entry.type == "sell":
            assert entry.price is not None
            closed.extend(_sell(entry.symbol, queue, entry))
    open_lots = [
        OpenLot(
            symbol,
            lot.acquired,
            lot.quantity,
            lot.cost,
            prices.get(symbol),
            term(lot.acquired, as_of),
        )
        for symbol, queue in sorted(held.items())
        for lot in queue
    ]
    return Lots(open_lots, closed)


def _sell(symbol: str, queue: deque[_Lot], entry: Entry) -> list[ClosedLot]:
    assert entry.quantity is not None
    assert entry.price is not None
    total = entry.quantity * entry.price - entry.fee
    remaining, allotted = entry.quantity, Decimal(0)
    out: list[ClosedLot] = []
    while remaining > 0 and queue:
        lot = queue[0]
        take = min(lot.quantity, remaining)
        cost = lot.cost if take == lot.quantity else lot.cost * take / lot.quantity
        remaining -= take
        # The last slice takes what is left, so the slices add up to the proceeds exactly.
        proceeds = total - allotted if remaining == 0 else total * take / entry.quantity
        allotted += proceeds
        out.append(
            ClosedLot(
                symbol,
                lot.acquired,
                entry.date,
                take,
                proceeds,
                cost,
                term(lot.acquired, entry.date),
            )
        )
        lot.quantity -= take
        lot.cost -= cost
        if lot.quantity == 0:
            queue.popleft()
    return out
