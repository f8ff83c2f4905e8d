"""Interactive Brokers Flex Query reports: the Trades, Cash Transactions and Corporate
Actions sections, as XML (``<FlexQueryResponse>``) or CSV (with or without header and trailer
records).

Trades in stocks and ETFs (``assetCategory`` STK) are buys (positive ``quantity``) and sells
(negative) at ``tradePrice`` in ``currency``, the fee ``-ibCommission`` (and ``-taxes``); a
commission in another currency is a ``fee`` row of its own. FX conversions (``assetCategory``
CASH, such as EUR.USD) are left out: they move money between the account's currency balances,
and Flint's cash is one balance in the base currency. Options, futures, bonds and other
categories are refused, and so are cancellations (``buySell`` ``SELL (Ca.)``). Cash
transactions: deposits and withdrawals, dividends and payments in lieu, withholding tax
(``tax``), broker or bond interest received (``interest``), broker interest paid and other
fees (``fee``); a reversal (a dividend taken back, a tax or fee refunded) is refused, as are
other types. Corporate actions: forward and reverse splits (``SPLIT 4 FOR 1``), others
refused. Summary rows (``levelOfDetail`` other than the detail) are left out. Dates are
``yyyyMMdd`` or ``yyyy-MM-dd`` (the query's date format).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from xml.etree import ElementTree

from flint.portfolio.imports import rows, text
from flint.portfolio.imports.base import ImportRefused, Parsed
from flint.portfolio.imports.numbers import day
from flint.portfolio.imports.rows import Builder, CellError, Row

DATES = ("%Y%m%d", "%Y-%m-%d")
US = {"", "NASDAQ", "NYSE", "ARCA", "AMEX", "BATS", "NYSEARCA", "IEX", "PINK", "ISLAND", "NMS"}
SUFFIXES = {
    "LSE": ".L",
    "LSEETF": ".L",
    "AEB": ".AS",
    "SBF": ".PA",
    "IBIS": ".DE",
    "IBIS2": ".DE",
    "FWB": ".F",
    "FWB2": ".F",
    "SWX": ".SW",
    "EBS": ".SW",
    "BVME": ".MI",
    "BVME.ETF": ".MI",
    "ENEXT.BE": ".BR",
    "BM": ".MC",
    "TSE": ".TO",
    "VENTURE": ".V",
    "ASX": ".AX",
    "SEHK": ".HK",
    "TSEJ": ".T",
    "SFB": ".ST",
    "OSE": ".OL",
    "KFB": ".CO",
    "HEX": ".HE",
    "VSE": ".VI",
    "WSE": ".WA",
    "BVL": ".LS",
}
_SPLIT = re.compile(r"SPLIT\s+(\d+(?:\.\d+)?)\s+FOR\s+(\d+(?:\.\d+)?)", re.IGNORECASE)
TRADES, CASH, ACTIONS = "Trade", "CashTransaction", "CorporateAction"


def recognises(data: bytes) -> bool:
    if "<FlexQueryResponse" in text.head(data):
        return True
    first = rows.first_rows(data, 1)
    if not first:
        return False
    if first[0][:1] == ["BOF"]:
        return True
    keys = [rows.key(cell) for cell in first[0]]
    return "clientaccountid" in keys or _section(keys) is not None


def _section(keys: list[str]) -> str | None:
    """The Flex section a CSV header row starts (by its columns), or None."""
    names = set(keys)
    if "clientaccountid" not in names and "currencyprimary" not in names:
        return None
    if "tradeprice" in names:
        return TRADES
    if "actiondescription" in names or "actionid" in names:
        return ACTIONS
    if {"type", "amount"} <= names:
        return CASH
    return None


def _xml_rows(data: bytes) -> Iterator[tuple[str, Row]]:
    lowered = data.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise ImportRefused([("body", "a document type declaration is not allowed")])
    try:
        # Without a DTD there are no entities to expand (no billion laughs, no external
        # entities): a Flex report has none, and one that declares any is refused above.
        root = ElementTree.fromstring(data)  # noqa: S314
    except ElementTree.ParseError as exc:
        raise ImportRefused([("body", f"not XML: {exc}")]) from exc
    except LookupError as exc:  # <?xml encoding="..."?> naming no codec Python has
        raise ImportRefused([("body", f"not XML: {exc}")]) from exc
    if root.tag != "FlexQueryResponse":
        raise ImportRefused([("body", f"not a Flex Query report (<{root.tag}>)")])
    counts = {TRADES: 0, CASH: 0, ACTIONS: 0}
    for element in root.iter():
        if element.tag not in counts:
            continue
        counts[element.tag] += 1
        label = f"{element.tag}[{counts[element.tag]}]"
        cells = {rows.key(name): value for name, value in element.attrib.items()}
        titles = {rows.key(name): name for name in element.attrib}
        yield element.tag, Row(0, cells, titles, label)


def _csv_rows(data: bytes) -> Iterator[tuple[str, Row]]:
    reader = text.reader(text.decode(data))
    section: str | None = None
    names: list[str] = []
    titles: dict[str, str] = {}
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            tagged = cells[0] in {"HEADER", "DATA"}
            if cells[0] in {"BOF", "BOA", "BOS", "EOS", "EOA", "EOF"}:
                section = None if cells[0] == "BOS" else section
                continue
            values = cells[2:] if tagged else cells
            keys = [rows.key(cell) for cell in values]
            plain_header = "clientaccountid" in keys or _section(keys) is not None
            if cells[0] == "HEADER" or (not tagged and plain_header):
                section, names = _section(keys), keys
                titles = {rows.key(cell): cell for cell in values}
                continue
            if section is None:
                continue  # a section Flint does not read (Open Positions, ...)
            yield section, Row(reader.line_num, dict(zip(names, values, strict=False)), titles)
    except csv.Error as exc:
        raise ImportRefused([("body", f"not CSV: {exc}")]) from exc


def _when(row: Row, *names: str) -> date:
    for name in names:
        written = row.get(name)
        if written:
            first = re.split(r"[;, ]", written, maxsplit=1)[0]
            try:
                return day(first, DATES)
            except ValueError as exc:
                raise CellError(row.at(name), f"{exc}; set the query's date format") from exc
    raise ValueError(f"no date ({' or '.join(names)})")


def _symbol(row: Row, code: str | None) -> str:
    ticker = row.get("symbol")
    if not ticker:
        raise ValueError("the row has no symbol")
    exchange = row.get("listingexchange").upper()
    if exchange in SUFFIXES:
        return rows.with_suffix(ticker, SUFFIXES[exchange])
    if exchange in US and (exchange or code == "USD"):
        return rows.listed(ticker)
    raise ValueError(
        f"Flint cannot tell the Yahoo symbol of {ticker} listed on {exchange or 'an unnamed'} "
        "exchange; import it as Flint's CSV with its Yahoo symbol"
    )


def _trade(out: Builder, row: Row) -> None:
    category = row.get("assetcategory", "assetclass").upper()
    if category == "CASH":
        return  # an FX conversion between the account's currency balances: left out
    if category not in {"STK", ""}:
        raise ValueError(f"a trade in {category} (only stocks and ETFs, STK, are imported)")
    if "(ca.)" in row.get("buysell").lower():
        raise ValueError(
            "a cancelled trade (and the trade it cancels) cannot be booked: leave both out"
        )
    code = rows.currency(row.get("currency", "currencyprimary"))
    quantity = row.number("quantity")
    if not quantity:
        raise CellError(row.at("quantity"), "a trade needs a quantity other than 0")
    symbol = _symbol(row, code)
    when = _when(row, "tradedate", "datetime")
    fee = Decimal(0)
    commission = row.number("ibcommission", "commission") or Decimal(0)
    if commission > 0:
        raise CellError(row.at("ibcommission"), "a commission rebate (positive) is not booked")
    taxes = row.number("taxes") or Decimal(0)
    commission_code = rows.currency(row.get("ibcommissioncurrency")) or code
    other = Decimal(0)
    if commission_code == code:
        fee -= commission
    else:
        other -= commission
    fee -= min(taxes, Decimal(0))
    out.add(
        row.where,
        row.get("transactionid", "tradeid"),
        date=when,
        type="buy" if quantity > 0 else "sell",
        symbol=symbol,
        quantity=abs(quantity),
        price=row.number("tradeprice"),
        fee=fee,
        currency=code,
    )
    if other:
        out.add(
            row.where,
            None,
            date=when,
            type="fee",
            symbol=symbol,
            amount=other,
            currency=commission_code,
        )


CASH_TYPES = {
    "deposits/withdrawals": ("deposit", "withdrawal"),
    "deposits & withdrawals": ("deposit", "withdrawal"),
    "dividends": ("dividend", None),
    "payment in lieu of dividends": ("dividend", None),
    "withholding tax": (None, "tax"),
    "broker interest received": ("interest", None),
    "bond interest received": ("interest", None),
    "broker interest paid": (None, "fee"),
    "bond interest paid": (None, "fee"),
    "other fees": (None, "fee"),
    "commission adjustments": (None, "fee"),
}
WITH_SYMBOL = {"dividend", "tax"}


def _cash(out: Builder, row: Row) -> None:
    kind = row.get("type")
    if kind.lower() not in CASH_TYPES:
        raise ValueError(f"the cash transaction type {kind!r} is not one Flint maps")
    amount = row.number("amount")
    if not amount:
        raise CellError(row.at("amount"), "the amount is empty or 0")
    incoming, outgoing = CASH_TYPES[kind.lower()]
    flint_type = incoming if amount > 0 else outgoing
    if flint_type is None:
        way = "paid in" if amount > 0 else "taken out"
        raise CellError(row.at("amount"), f"a {kind} {way} (a reversal) is not booked")
    code = rows.currency(row.get("currency", "currencyprimary"))
    symbol = _symbol(row, code) if flint_type in WITH_SYMBOL or row.get("symbol") else None
    out.add(
        row.where,
        row.get("transactionid"),
        date=_when(row, "datetime", "date", "settledate", "reportdate"),
        type=flint_type,
        symbol=symbol,
        amount=abs(amount),
        currency=code,
    )


def _action(out: Builder, row: Row) -> None:
    kind = row.get("type").upper()
    if kind not in {"FS", "RS"}:
        raise ValueError(f"the corporate action {kind or '?'} is not one Flint maps (splits only)")
    quantity = row.number("quantity") or Decimal(0)
    if kind == "RS" and quantity < 0:
        return  # a reverse split's removal of the old shares; the split is the other row
    description = row.get("actiondescription", "description")
    ratio = _SPLIT.search(description)
    if ratio is None:
        raise ValueError(f"no split ratio (SPLIT n FOR m) in {description!r}")
    out.add(
        row.where,
        row.get("transactionid", "actionid"),
        date=_when(row, "reportdate", "datetime", "date"),
        type="split",
        symbol=_symbol(row, rows.currency(row.get("currency", "currencyprimary"))),
        quantity=Decimal(ratio[1]) / Decimal(ratio[2]),
    )


def parse(data: bytes) -> Parsed:
    out = Builder()
    is_xml = "<FlexQueryResponse" in text.head(data)
    readers = {TRADES: _trade, CASH: _cash, ACTIONS: _action}
    for section, row in _xml_rows(data) if is_xml else _csv_rows(data):
        if row.get("levelofdetail").upper() not in {"", "EXECUTION", "DETAIL"}:
            continue
        try:
            readers[section](out, row)
        except ValueError as exc:
            out.refuse_row(row.where, exc)
    return out.done()
