"""Trading 212's CSV history export (``Action,Time,ISIN,Ticker,Name,No. of shares,...``).

Its columns vary with what the account did (a fee or tax column appears only once used), so
they are read by name. Buys and sells take the share count, the price per share in its
currency (``GBX``: pence, ``GBp``) and their fees; a fee in another currency than the price
(a currency conversion fee is charged in the account's) is a ``fee`` row of its own on the
same symbol. A symbol is the ticker for a US ISIN, with ``.L`` for a price in GBX or GBP;
any other listing is refused (the file names no venue). Dividends take ``Total`` (what was
paid in, in ``Currency (Total)``): with a withholding tax in that currency the dividend is
grossed up and the tax booked as ``tax``; one in another currency was already taken from the
total and is not booked again. Deposits,
withdrawals, interest on cash and lending interest take ``Total``. Currency conversions
between the account's cash balances are left out (Flint's cash is one balance in the base
currency); any other action is refused.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flint.portfolio.imports import rows
from flint.portfolio.imports.base import Parsed
from flint.portfolio.imports.rows import Builder, Row

TIMES = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d")
FEES = (
    "currencyconversionfee",
    "transactionfee",
    "finrafee",
    "stampdutyreservetax",
    "stampduty",
    "frenchtransactiontax",
    "ptmlevy",
    "chargeamount",
)
SKIPPED = {"currency conversion"}
CASH = {
    "deposit": "deposit",
    "withdrawal": "withdrawal",
    "interest on cash": "interest",
    "lending interest": "interest",
    "spending cashback": "interest",
}


def _is_header(cells: list[str]) -> bool:
    keys = {rows.key(cell) for cell in cells}
    return {"action", "time"} <= keys and bool(
        keys & {"noofshares", "priceshare", "currencytotal", "total", "ticker"}
    )


def recognises(data: bytes) -> bool:
    first = rows.first_rows(data, 1)
    return bool(first) and _is_header(first[0])


def _symbol(row: Row, price_currency: str | None) -> str:
    """A US ISIN's ticker as it is; London's (in pence or pounds) with ``.L``. Trading 212
    names no venue, and a fund with an Irish ISIN in dollars (CSPX) is London's too, so any
    other listing is refused rather than guessed."""
    ticker = row.get("ticker")
    if not ticker:
        raise ValueError("the row has no Ticker")
    isin = row.get("isin").upper()
    if not isin or isin.startswith("US"):
        return rows.listed(ticker)
    if price_currency in {"GBp", "GBP"}:
        return rows.with_suffix(ticker, ".L")
    raise ValueError(
        f"the file does not say where {ticker} ({isin}, in {price_currency}) is listed; "
        "import it as Flint's CSV with its Yahoo symbol (such as ASML.AS)"
    )


def _trade(out: Builder, row: Row, kind: str, when: date) -> None:
    price_currency = rows.currency(row.get("currencypriceshare"))
    symbol = _symbol(row, price_currency)
    fee = Decimal(0)
    others: dict[str, Decimal] = {}
    total_currency = rows.currency(row.get("currencytotal"))
    for name in FEES:
        value = row.number(name)
        if not value:
            continue
        code = rows.currency(row.get(f"currency{name}")) or total_currency or price_currency
        if code == price_currency:
            fee += abs(value)
        else:
            others[code or ""] = others.get(code or "", Decimal(0)) + abs(value)
    out.add(
        row.where,
        row.get("id"),
        date=when,
        type=kind,
        symbol=symbol,
        quantity=row.number("noofshares"),
        price=row.number("priceshare"),
        fee=fee,
        currency=price_currency,
    )
    for code, amount in others.items():
        out.add(row.where, None, date=when, type="fee", symbol=symbol, amount=amount, currency=code)


def _dividend(out: Builder, row: Row, when: date) -> None:
    price_currency = rows.currency(row.get("currencypriceshare"))
    symbol = _symbol(row, price_currency)
    total = row.number("total")
    code = rows.currency(row.get("currencytotal"))
    tax = row.number("withholdingtax")
    tax_code = rows.currency(row.get("currencywithholdingtax")) or code
    taxed = bool(tax) and tax_code == code and total is not None
    amount = (total + abs(tax)) if taxed and total is not None and tax else total
    out.add(
        row.where,
        row.get("id"),
        date=when,
        type="dividend",
        symbol=symbol,
        amount=amount,
        currency=code,
    )
    if taxed and tax:
        out.add(
            row.where, None, date=when, type="tax", symbol=symbol, amount=abs(tax), currency=code
        )


def parse(data: bytes) -> Parsed:
    out = Builder()
    for row in rows.csv_rows(data, _is_header):
        action = row.get("action").lower()
        try:
            when = row.day("time", TIMES)
            if action in SKIPPED:
                continue
            if action.endswith(" buy") or action.endswith(" sell"):
                _trade(out, row, action.rsplit(" ", 1)[1], when)
            elif action.startswith("dividend"):
                _dividend(out, row, when)
            elif action in CASH:
                total = row.number("total")
                out.add(
                    row.where,
                    row.get("id"),
                    date=when,
                    type=CASH[action],
                    amount=None if total is None else abs(total),
                    currency=rows.currency(row.get("currencytotal")),
                )
            else:
                out.refuse(row.where, f"the action {row.get('action')!r} is not one Flint maps")
        except ValueError as exc:
            out.refuse_row(row.where, exc)
    return out.done()
