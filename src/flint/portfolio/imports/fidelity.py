"""Fidelity's "Accounts history" CSV (``Run Date,Action,Symbol,Description,Type,Quantity,
Price ($),Commission ($),Fees ($),Accrued Interest ($),Amount ($),Settlement Date``; also the
``Security Description`` / ``Security Type`` and ``Cash Balance ($)`` variants), in US dollars.

The blank lines and the text before the header and after the rows (one cell each, such as the
disclaimer and "Date downloaded") are left out; Fidelity gives no transaction ids. ``YOU
BOUGHT`` and ``REINVESTMENT`` are buys, ``YOU SOLD`` a sell (the fee: commission and fees);
dividends and capital gain distributions take ``Amount``, so a reinvested dividend is a
dividend and a buy, as Fidelity lists it. Electronic funds transfers, direct deposits and
contributions in or out are deposits or withdrawals, ``INTEREST EARNED`` interest, ``FOREIGN
TAX PAID`` tax, fees and margin interest fees. The core money-market position (SPAXX, FDRXX,
FZFXX, SPRXX, FCASH) is the account's cash: its dividends are interest, its reinvestments and
trades are left out. Other actions are refused.
"""

from __future__ import annotations

from decimal import Decimal

from flint.portfolio.imports import rows
from flint.portfolio.imports.base import Parsed
from flint.portfolio.imports.rows import Builder, CellError, Row, signed_type

DATES = ("%m/%d/%Y", "%Y-%m-%d")
CORE = {"SPAXX", "FDRXX", "FZFXX", "SPRXX", "FCASH", "CORE"}
DIVIDENDS = ("dividend received", "non-qualified dividend", "long-term cap gain",
             "short-term cap gain", "return of capital", "dividend")  # fmt: skip
TRANSFERS = ("electronic funds transfer", "direct deposit", "cash contribution", "contribution",
             "transferred from", "transferred to", "wire transfer", "check received",
             "deposit", "withdrawal", "distribution transfer", "partic contr")  # fmt: skip
FEES = ("fee charged", "advisory fee", "margin interest", "fee")
TAXES = ("foreign tax paid", "fed tax withheld", "state tax withheld", "tax withheld")


def _is_header(cells: list[str]) -> bool:
    keys = {rows.key(cell) for cell in cells}
    return {"rundate", "action", "symbol", "quantity", "amount"} <= keys


def recognises(data: bytes) -> bool:
    return any(_is_header(cells) for cells in rows.first_rows(data, 12))


def _category(action: str) -> str:
    """What a cash action is (before its sign says which way the money went)."""
    if any(action.startswith(word) for word in DIVIDENDS):
        return "dividend"
    if action.startswith("interest earned"):
        return "interest"
    for words, category in ((TAXES, "tax"), (FEES, "fee"), (TRANSFERS, "transfer")):
        if any(action.startswith(word) for word in words):
            return category
    raise ValueError(f"the action {action.upper()!r} is not one Flint maps")


def _row(out: Builder, row: Row) -> None:
    action = " ".join(row.get("action").lower().split())
    when = row.day("rundate", DATES)
    symbol = rows.listed(row.get("symbol")) or None
    core = symbol in CORE
    bought = action.startswith(("you bought", "reinvestment", "bought"))
    sold = action.startswith(("you sold", "sold"))
    if bought or sold:
        if core:
            return  # a move between the cash and the core money-market position
        quantity = row.number("quantity")
        if not quantity:
            raise CellError(row.at("quantity"), "a trade needs a quantity other than 0")
        fee = abs(row.number("commission") or Decimal(0)) + abs(row.number("fees") or Decimal(0))
        out.add(
            row.where,
            None,
            date=when,
            type="buy" if bought else "sell",
            symbol=symbol,
            quantity=abs(quantity),
            price=row.number("price"),
            fee=fee,
            currency="USD",
        )
        return
    kind, amount = signed_type(row, _category(action))
    if kind == "dividend" and core:
        kind = "interest"  # the core money-market fund's dividends are the cash's interest
    out.add(
        row.where,
        None,
        date=when,
        type=kind,
        symbol=symbol if kind in {"dividend", "tax"} and not core else None,
        amount=abs(amount),
        currency="USD",
    )


def parse(data: bytes) -> Parsed:
    out = Builder()
    for row in rows.csv_rows(data, _is_header):
        if sum(1 for cell in row.cells.values() if cell.strip()) <= 1:
            continue  # the disclaimer and other text after the rows
        try:
            _row(out, row)
        except ValueError as exc:
            out.refuse_row(row.where, exc)
    return out.done()
