"""DEGIRO's two CSV exports (English headers): Transactions and the Account statement.

DEGIRO names a product and its ISIN, never its ticker: a product is Flint's instrument whose
name is the product's (legal forms such as Inc., Corp. and "common stock" aside: ``APPLE INC.
- COMMON ST`` is Apple Inc., AAPL), when it is listed in the US (a US reference exchange, or
a US ISIN in the statement, which names no exchange) and exactly one instrument has that
name. Any other product is refused with its name and ISIN (import it as Flint's CSV with its
Yahoo symbol). Dates are ``DD-MM-YYYY``; numbers take the file's decimal mark (``12,50`` or
``12.50``).

Transactions: buys (positive ``Quantity``) and sells at ``Price`` in its currency, the order
id as the source id, ``Transaction and/or third party fees`` (and ``AutoFX Fee``) as the fee,
or as a ``fee`` row of its own when in another currency than the price (DEGIRO charges them
in the account's). Account statement: ``Buy``/``Sell N PRODUCT@PRICE CUR`` rows as trades,
``Dividend``, ``Dividend Tax`` (tax), deposits, withdrawals, interest (negative interest as a
fee) and DEGIRO's fees; rows that move cash inside the account (FX credits and debits of a
currency conversion, cash sweep transfers and other transfers between DEGIRO's own
accounts, reservations, money market fund settlements) or move none are left out; any
other description is refused. Import one of the two exports for the trades, not both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache

from flint.market.api import InstrumentType, load_universe
from flint.portfolio.imports import rows
from flint.portfolio.imports.base import Parsed
from flint.portfolio.imports.numbers import decimal_comma_in, number
from flint.portfolio.imports.rows import Builder, CellError, Row

DATES = ("%d-%m-%Y", "%d/%m/%Y", "%Y-%m-%d")
US_VENUES = {"NDQ", "NSY", "NYSE", "NASDAQ", "ASE", "NYSE ARCA", "BATS", "OTC", "ARCA"}
LEGAL = {
    "inc", "incorporated", "corp", "corporation", "co", "company", "ltd", "limited", "plc",
    "the", "common", "stock", "st", "s", "sto", "shares", "share", "cl", "class", "ord",
    "sa", "nv", "ag", "se", "holdings", "holding", "group", "adr", "com",
}  # fmt: skip
_TOKEN = re.compile(r"[0-9a-z&]+")
_TRADE = re.compile(
    r"^(?P<side>Buy|Sell)\s+(?P<quantity>[\d.,]+)\s*(?P<product>.*?)\s*@\s*"
    r"(?P<price>[\d.,]+)\s+(?P<currency>[A-Z]{3}|GBX)\b",
    re.IGNORECASE,
)
SKIPPED = (
    "fx credit", "fx debit", "fx withdrawal", "cash sweep", "reservation", "transfer",
    "money market fund", "fundsettlement", "processed flatex withdrawal",
)  # fmt: skip


def _words(name: str) -> tuple[str, ...]:
    tokens = _TOKEN.findall(name.lower().replace(".", "").replace("'", ""))
    return tuple(token for token in tokens if token not in LEGAL)


@lru_cache(maxsize=1)
def _names() -> dict[tuple[str, ...], list[str]]:
    index: dict[tuple[str, ...], list[str]] = {}
    for instrument in load_universe():
        if instrument.type in {InstrumentType.EQUITY, InstrumentType.ETF}:
            index.setdefault(_words(instrument.name), []).append(instrument.symbol)
    return index


def _symbol(row: Row, product: str, isin: str, venue: str) -> str:
    us = venue.upper() in US_VENUES if venue else isin.upper().startswith("US")
    found = _names().get(_words(product), []) if us else []
    if len(found) == 1:
        return found[0]
    where = f"on {venue}" if venue else f"ISIN {isin or '?'}"
    why = "no US listing Flint knows by that name" if us else "not a US listing"
    raise CellError(
        row.at("product"),
        f"DEGIRO names no ticker, and {product!r} ({where}) is {why}; import it as Flint's "
        "CSV with its Yahoo symbol (such as ASML.AS)",
    )


def _is_transactions(cells: list[str]) -> bool:
    keys = {rows.key(cell) for cell in cells}
    return {"date", "product", "isin", "quantity", "price", "orderid"} <= keys and (
        "referenceexchange" in keys or "venue" in keys
    )


def _is_account(cells: list[str]) -> bool:
    keys = {rows.key(cell) for cell in cells}
    return {"date", "valuedate", "product", "isin", "description", "change"} <= keys


def recognises_transactions(data: bytes) -> bool:
    first = rows.first_rows(data, 1)
    return bool(first) and _is_transactions(first[0])


def recognises_account(data: bytes) -> bool:
    first = rows.first_rows(data, 1)
    return bool(first) and _is_account(first[0])


def _fees(row: Row, code: str | None) -> tuple[Decimal, dict[str, Decimal]]:
    """The row's fees in ``code`` (the price's currency), and those in other currencies."""
    fee = Decimal(0)
    others: dict[str, Decimal] = {}
    for name in ("transactionandorthirdpartyfees", "transactioncosts", "autofxfee"):
        value = row.number(name)
        if not value:
            continue
        fee_code = rows.currency(row.get(f"{name}currency")) or rows.currency(
            row.get("totalcurrency")
        )
        if fee_code in {code, None}:
            fee += abs(value)
        else:
            assert fee_code is not None
            others[fee_code] = others.get(fee_code, Decimal(0)) + abs(value)
    return fee, others


def _read(data: bytes, is_header: Callable[[list[str]], bool], amount: str) -> list[Row]:
    """The rows, each told the file's decimal mark (from its amount cells)."""
    unnamed = (lambda before: f"{before}amount") if amount == "changeamount" else None
    found = list(
        rows.csv_rows(data, is_header, unnamed=unnamed)
        if unnamed
        else rows.csv_rows(data, is_header)
    )
    comma = decimal_comma_in([row.get(amount, "price") for row in found])
    for row in found:
        row.decimal_comma = comma
    return found


def parse_transactions(data: bytes) -> Parsed:
    out = Builder()
    for row in _read(data, _is_transactions, "total"):
        try:
            when = row.day("date", DATES)
            quantity = row.number("quantity")
            if not quantity:
                raise CellError(row.at("quantity"), "a trade needs a quantity other than 0")
            product, isin = row.get("product"), row.get("isin")
            symbol = _symbol(row, product, isin, row.get("referenceexchange"))
            code = rows.currency(row.get("pricecurrency"))
            fee, others = _fees(row, code)
            out.add(
                row.where,
                row.get("orderid"),
                date=when,
                type="buy" if quantity > 0 else "sell",
                symbol=symbol,
                quantity=abs(quantity),
                price=row.number("price"),
                fee=fee,
                currency=code,
            )
            for fee_code, amount in others.items():
                out.add(
                    row.where, None, date=when, type="fee", symbol=symbol, amount=amount,
                    currency=fee_code,
                )  # fmt: skip
        except ValueError as exc:
            out.refuse_row(row.where, exc)
    return out.done()


def _statement_row(out: Builder, row: Row) -> None:
    description = row.get("description")
    amount = row.number("changeamount")
    lowered = description.lower()
    if not amount or any(word in lowered for word in SKIPPED):
        return
    when = row.day("date", DATES)
    code = rows.currency(row.get("change"))
    product, isin = row.get("product"), row.get("isin")
    trade = _TRADE.match(description)
    if trade:
        comma = row.decimal_comma
        out.add(
            row.where,
            row.get("orderid"),
            date=when,
            type=trade["side"].lower(),
            symbol=_symbol(row, product, isin, ""),
            quantity=number(trade["quantity"], decimal_comma=comma),
            price=number(trade["price"], decimal_comma=comma),
            currency=rows.currency(trade["currency"]),
        )
        return
    kind: str | None
    if lowered in {"dividend", "dividend tax"} or lowered.startswith("capital return"):
        kind = "tax" if lowered == "dividend tax" else "dividend"
        if (kind == "dividend") != (amount > 0):
            raise CellError(row.at("changeamount"), f"a {description} of {amount} is a reversal")
    elif "deposit" in lowered:
        kind = "deposit" if amount > 0 else None
    elif "withdrawal" in lowered:
        kind = "withdrawal" if amount < 0 else None
    elif "interest" in lowered:
        kind = "interest" if amount > 0 else "fee"
    elif "fee" in lowered or "costs" in lowered:
        kind = "fee" if amount < 0 else None
    else:
        raise ValueError(f"the description {description!r} is not one Flint maps")
    if kind is None:
        raise CellError(row.at("changeamount"), f"a {description} of {amount} is a reversal")
    symbol = _symbol(row, product, isin, "") if kind in {"dividend", "tax"} or product else None
    out.add(
        row.where,
        row.get("orderid") or None,
        date=when,
        type=kind,
        symbol=symbol,
        amount=abs(amount),
        currency=code,
    )


def parse_account(data: bytes) -> Parsed:
    out = Builder()
    for row in _read(data, _is_account, "changeamount"):
        try:
            _statement_row(out, row)
        except ValueError as exc:
            out.refuse_row(row.where, exc)
    return out.done()


def recognises(data: bytes) -> bool:
    return recognises_transactions(data) or recognises_account(data)


def parse(data: bytes) -> Parsed:
    """Either export, told by its header."""
    return parse_account(data) if recognises_account(data) else parse_transactions(data)
