"""Charles Schwab's brokerage transaction history CSV (``"Date","Action","Symbol",
"Description","Quantity","Price","Fees & Comm","Amount"``), in US dollars.

A title line before the header and the ``Transactions Total`` footer are left out. The date is
the first of ``01/15/2024 as of 01/12/2024`` (the day it was booked). ``Buy`` and ``Reinvest
Shares`` are buys, ``Sell`` a sell (fees from ``Fees & Comm``); dividends (``Qualified
Dividend``, ``Cash Dividend``, ``Non-Qualified Div``, ``Reinvest Dividend``, capital gain
distributions, ...) take ``Amount``, so a reinvested dividend is a dividend and a buy, as
Schwab lists it. Interest, transfers (``MoneyLink Transfer``, ``Journal``, wires: a deposit
when money comes in, a withdrawal when it goes out), taxes (``NRA Tax Adj``, ``Foreign Tax
Paid``: ``tax``) and fees. A ``Stock Split`` gives the added shares: its ratio is worked out
from the holding the file shows before it (refused when the file does not show one). Other
actions (options' ``Buy to Open``, ``Reverse Split``, ...), and refunds of a tax or fee, are
refused.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from flint.portfolio.imports import rows
from flint.portfolio.imports.base import Parsed
from flint.portfolio.imports.rows import Builder, CellError, Row, signed_type

COLUMNS = {"date", "action", "symbol", "description", "quantity", "price", "feescomm", "amount"}
DATES = ("%m/%d/%Y",)
BUYS = {"buy", "reinvest shares"}
SELLS = {"sell"}
DIVIDENDS = (
    "qualified dividend", "cash dividend", "non-qualified div", "reinvest dividend",
    "qual div reinvest", "special qual div", "special dividend", "pr yr cash div",
    "pr yr div reinvest", "pr yr non-qual div", "pr yr special div", "long term cap gain",
    "short term cap gain", "cash in lieu", "div adjustment",
)  # fmt: skip
INTEREST = ("bank interest", "credit interest", "bond interest", "interest")
TRANSFERS = ("moneylink", "journal", "wire", "funds received", "internal transfer")
TAXES = ("nra tax adj", "foreign tax paid", "nra withholding", "backup withholding")
FEES = ("service fee", "adr mgmt fee", "wire fee", "margin interest", "advisor fee", "mgmt fee")


def _is_header(cells: list[str]) -> bool:
    return {rows.key(cell) for cell in cells} >= COLUMNS


def recognises(data: bytes) -> bool:
    return any(_is_header(cells) for cells in rows.first_rows(data, 3))


def _when(row: Row) -> date:
    first = row.get("date").split(" as of ")[0]
    return row.day("date", DATES) if first == row.get("date") else _day(row, first)


def _day(row: Row, text: str) -> date:
    return Row(row.line, {"date": text}, row.titles).day("date", DATES)


def _category(action: str) -> str:
    """What a cash action is (before its sign says which way the money went)."""
    if action.startswith(DIVIDENDS) or action.endswith(" div") or "dividend" in action:
        return "dividend"
    for words, category in ((TAXES, "tax"), (FEES, "fee"), (INTEREST, "interest")):
        if any(action.startswith(word) for word in words):
            return category
    if any(action.startswith(word) for word in TRANSFERS):
        return "transfer"
    raise ValueError(f"the action {action!r} is not one Flint maps")


def parse(data: bytes) -> Parsed:
    out = Builder()
    splits: list[tuple[Row, date, str, Decimal]] = []
    trades: list[tuple[date, str, Decimal]] = []
    for row in rows.csv_rows(data, _is_header):
        if row.get("date").lower().startswith("transactions total"):
            continue
        action = row.get("action").lower()
        try:
            when = _when(row)
            symbol = rows.listed(row.get("symbol")) or None
            if action in BUYS or action in SELLS:
                quantity = abs(row.number("quantity") or Decimal(0))
                kind = "buy" if action in BUYS else "sell"
                out.add(
                    row.where,
                    None,
                    date=when,
                    type=kind,
                    symbol=symbol,
                    quantity=quantity or None,
                    price=row.number("price"),
                    fee=abs(row.number("feescomm") or Decimal(0)),
                    currency="USD",
                )
                if symbol:
                    trades.append((when, symbol, quantity if kind == "buy" else -quantity))
            elif action == "stock split":
                added = row.number("quantity")
                if not added or added <= 0 or not symbol:
                    raise CellError(row.at("quantity"), "a stock split needs the shares added")
                splits.append((row, when, symbol, added))
            else:
                kind, amount = signed_type(row, _category(action))
                with_symbol = kind in {"dividend", "tax"} and symbol
                out.add(
                    row.where,
                    None,
                    date=when,
                    type=kind,
                    symbol=symbol if with_symbol else None,
                    amount=abs(amount),
                    currency="USD",
                )
        except ValueError as exc:
            out.refuse_row(row.where, exc)
    _add_splits(out, splits, trades)
    return out.done()


def _add_splits(
    out: Builder,
    splits: list[tuple[Row, date, str, Decimal]],
    trades: list[tuple[date, str, Decimal]],
) -> None:
    """Each split as a ratio: (held + added) / held, held as the file shows it before the
    split's day (earlier splits applied)."""
    ratios: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for row, when, symbol, added in sorted(splits, key=lambda split: split[1]):
        held = Decimal(0)
        for day, traded, delta in trades:
            if traded == symbol and day < when:
                factor = Decimal(1)
                for split_day, ratio in ratios[symbol]:
                    if day < split_day:
                        factor *= ratio
                held += delta * factor
        if held <= 0:
            out.refuse(
                row.at("quantity"),
                f"the file shows no holding of {symbol} before the split, so its ratio is unknown",
            )
            continue
        ratio = (held + added) / held
        ratios[symbol].append((when, ratio))
        out.add(row.where, None, date=when, type="split", symbol=symbol, quantity=ratio)
