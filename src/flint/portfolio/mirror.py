"""Which ledger rows a followed account calls for: its activities mapped, and the gaps between
them and its holdings. Pure functions (no I/O); `flint.portfolio.following` does the rest.

Mapping, by the provider's normalised ``type`` (`flint.brokerage.types.Transaction`):

* ``buy``, ``sell`` (and ``reinvestment``, a buy paid by a dividend) with a symbol, a positive
  quantity and a positive price → buy / sell (no fee: providers report trades net of none);
* ``dividend`` → dividend; ``interest`` → interest; ``fee`` and ``tax`` → fee;
* ``deposit`` (SnapTrade's contributions too) → deposit; ``withdrawal`` → withdrawal; a
  ``transfer`` of cash (no symbol) → deposit or withdrawal by its sign;
* anything else (card spending on a brokerage account, splits, transfers of securities,
  unknown kinds), pending activity, zero amounts, trades without units or price and trades in
  symbols the market data service does not know are skipped and counted (cash activity of
  such a symbol, a dividend say, is kept without the symbol: the cash is real).

Cash amounts are positive in the ledger (the type says the direction).

Reconciliation: the mirrored trades replayed in ledger order give a position per symbol; where
it differs from the broker's holding (history older than the provider's window, securities
transferred in or out) a gap says how many units to buy at the start (``opening``: enough that
no mirrored sale ever exceeds the position, plus any units still missing at the end) and how
many to sell at the end (``closing``: units the ledger has that the broker no longer holds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flint.brokerage.api import Transaction

OPENING = "#opening:"
CLOSING = "#closing:"
"""Keys of the reconciliation rows (``#opening:AAPL``); provider ids are kept after a ``/``."""

_RANK = {
    "opening": 0,
    "deposit": 1,
    "buy": 2,
    "sell": 3,
    "dividend": 4,
    "interest": 5,
    "fee": 6,
    "tax": 7,
    "withdrawal": 8,
    "closing": 9,
}
_TRADES = {"buy": "buy", "sell": "sell", "reinvestment": "buy"}
_CASH = {
    "dividend": "dividend",
    "interest": "interest",
    "fee": "fee",
    "tax": "tax",
    "deposit": "deposit",
    "withdrawal": "withdrawal",
}
ZERO = Decimal(0)


@dataclass(frozen=True)
class Row:
    """A ledger row the account calls for; ``key`` is unique within the account."""

    key: str
    date: date
    type: str
    symbol: str | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    amount: Decimal | None = None
    currency: str = "USD"

    @property
    def rank(self) -> int:
        if self.key.startswith(OPENING):
            return _RANK["opening"]
        if self.key.startswith(CLOSING):
            return _RANK["closing"]
        return _RANK[self.type]


@dataclass
class Mirrored:
    rows: list[Row] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    """Why activities were left out, with how many each."""

    @property
    def start(self) -> date | None:
        """The day of the earliest mirrored activity."""
        return min((row.date for row in self.rows), default=None)


def _skip_reason(activity: Transaction, kind: str) -> str:
    if activity.type in _TRADES or activity.type in _CASH or activity.type == "transfer":
        return f"{kind}: incomplete"
    return f"{kind}: not an investment activity"


def mirror(activities: Sequence[Transaction], known: Callable[[str], str | None]) -> Mirrored:
    """The rows the account's ``activities`` map to (amounts signed from the holder's side);
    ``known`` gives a symbol's market-data name, or None for one the market does not know."""
    out = Mirrored()
    for item in activities:
        kind = item.type or "untyped"
        if item.status != "posted":
            out.skipped[f"{item.status}: not mirrored until it posts"] += 1
            continue
        symbol = known(item.symbol) if item.symbol else None
        cash = abs(item.amount)
        if item.type in _TRADES:
            if item.symbol and symbol is None:
                out.skipped[f"unknown symbol {item.symbol}"] += 1
                continue
            quantity = abs(item.quantity) if item.quantity is not None else ZERO
            price = item.price if item.price is not None else ZERO
            if symbol is None or quantity == 0 or price <= 0:
                out.skipped[_skip_reason(item, kind)] += 1
                continue
            row = Row(
                "/" + item.id,
                item.date,
                _TRADES[item.type],
                symbol,
                quantity=quantity,
                price=price,
                currency=item.currency,
            )
        elif item.type in _CASH or (item.type == "transfer" and not item.symbol):
            if cash == 0:
                out.skipped[_skip_reason(item, kind)] += 1
                continue
            ledger_type = _CASH.get(item.type or "") or (
                "deposit" if item.amount > 0 else "withdrawal"
            )
            row = Row(
                "/" + item.id,
                item.date,
                ledger_type,
                symbol if ledger_type == "dividend" else None,
                amount=cash,
                currency=item.currency,
            )
        else:
            out.skipped[_skip_reason(item, kind)] += 1
            continue
        out.rows.append(row)
    return out


def order_key(row: Row) -> tuple[date, int, str]:
    """Ledger order of mirrored rows: by day; within a day openings, deposits, buys, sales,
    income, fees, withdrawals, closings; then by key (stable across syncs)."""
    return row.date, row.rank, row.key


def sequence(rows: Sequence[Row]) -> dict[str, int]:
    """``seq`` of each row: -n..-1 within its day, so mirrored rows replay in `order_key`
    order and before the day's rows entered by hand (which count up from 0)."""
    by_day: dict[date, list[Row]] = {}
    for row in sorted(rows, key=order_key):
        by_day.setdefault(row.date, []).append(row)
    return {
        row.key: index - len(day_rows)
        for day_rows in by_day.values()
        for index, row in enumerate(day_rows)
    }


@dataclass(frozen=True)
class Gap:
    symbol: str
    opening: Decimal
    """Units to buy before the first mirrored activity."""
    closing: Decimal
    """Units to sell after the last one."""


def gaps(rows: Sequence[Row], holdings: Mapping[str, Decimal]) -> list[Gap]:
    """Per symbol, what it takes for the mirrored trades to end at ``holdings`` without a
    sale ever exceeding the position (see the module's docstring)."""
    running: dict[str, Decimal] = {}
    lowest: dict[str, Decimal] = {}
    for row in sorted(rows, key=order_key):
        if row.type not in ("buy", "sell") or row.symbol is None or row.quantity is None:
            continue
        step = row.quantity if row.type == "buy" else -row.quantity
        running[row.symbol] = running.get(row.symbol, ZERO) + step
        lowest[row.symbol] = min(lowest.get(row.symbol, ZERO), running[row.symbol])
    found: list[Gap] = []
    for symbol in sorted(running.keys() | holdings.keys()):
        opening = -lowest.get(symbol, ZERO)
        final = opening + running.get(symbol, ZERO)
        target = holdings.get(symbol, ZERO)
        closing = ZERO
        if target > final:
            opening += target - final
        else:
            closing = final - target
        if opening or closing:
            found.append(Gap(symbol, opening, closing))
    return found
