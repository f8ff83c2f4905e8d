"""What an OFX investment statement's transactions (``INVTRANLIST``) become.

A security (``SECID``: its ``UNIQUEID`` and ``UNIQUEIDTYPE``, CUSIP or ISIN) is looked up in
the file's ``SECLIST`` for its ``TICKER``, which must be an instrument of Flint's universe.
Trades: ``BUY*`` and ``SELL*`` (stock, fund, other, debt) are a buy or a sell of ``|UNITS|``
at ``UNITPRICE`` with ``COMMISSION + FEES + LOAD`` (``+ PENALTY``) as the fee; ``TAXES``
(and a sell's ``WITHHOLDING``) are a tax row on the position. ``INCOME``: ``INTEREST`` is
interest, ``DIV``, ``CGLONG``, ``CGSHORT`` and ``MISC`` a dividend of ``TOTAL`` (its
``WITHHOLDING`` a tax row); ``REINVEST`` is that income and a buy on the same day;
``RETOFCAP`` (return of capital) is booked as a dividend (the cash is right, the cost basis
is not lowered). ``TRANSFER`` in is a deposit of ``UNITS x UNITPRICE`` and a buy at
``UNITPRICE`` (the shares arrive at their cost, the cash is unchanged); a transfer out, a
short position, options and journals between sub-accounts are refused. ``SPLIT`` is a split
of ``NUMERATOR / DENOMINATOR``; ``MARGININTEREST`` and ``INVEXPENSE`` are fees;
``INVBANKTRAN`` rows are cash rows as in a bank statement.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from flint.kit.money import PRICE_STEP
from flint.market.api import load_universe
from flint.portfolio.imports.ofx_bank import Reader, Refusal, bank_row, convert, each, number

Securities = Mapping[tuple[str, str], tuple[str | None, str]]
"""``(UNIQUEIDTYPE, UNIQUEID)`` to the security's ``TICKER`` and ``SECNAME``."""

TRADE = {
    "date": "DTTRADE",
    "symbol": "SECID",
    "quantity": "UNITS",
    "price": "UNITPRICE",
    "fee": "COMMISSION",
    "amount": "TOTAL",
    "currency": "CURRENCY",
}
REFUSED = {
    "BUYOPT": "options are not imported (Flint's ledger holds no options)",
    "SELLOPT": "options are not imported (Flint's ledger holds no options)",
    "CLOSUREOPT": "options are not imported (Flint's ledger holds no options)",
    "JRNLFUND": "a journal between sub-accounts is not imported: record the move by hand",
    "JRNLSEC": "a journal between sub-accounts is not imported: record the move by hand",
}


def securities(root: ET.Element, problems: list[tuple[str, str]]) -> Securities:
    """The file's ``SECLIST`` entries (each converted on its own; a bad one is a problem)."""
    found: dict[tuple[str, str], tuple[str | None, str]] = {}
    for seclist in root.iter("SECLIST"):
        for where, element in each(seclist, "SECLIST"):
            try:
                info = convert(element).secinfo
            except Refusal as refused:
                name = f"{where}.{refused.element}" if refused.element else where
                problems.append((name, refused.why))
                continue
            except AttributeError:  # ofxtools read it as some other aggregate (a bad tag)
                problems.append((where, f"<{element.tag}> is not a security (no SECINFO)"))
                continue
            key = (str(info.secid.uniqueidtype).upper(), str(info.secid.uniqueid))
            found[key] = (str(info.ticker).strip() if info.ticker else None, str(info.secname))
    return found


@dataclass(frozen=True)
class _At:
    """One transaction of the list: where it is, and what it needs to become rows."""

    reader: Reader
    where: str
    securities: Securities

    def symbol(self, secid: Any) -> str:
        """Flint's symbol for a ``SECID``, by its ticker in the file's ``SECLIST``."""
        kind, unique = str(secid.uniqueidtype).upper(), str(secid.uniqueid)
        name = f"{kind} {unique}"
        ticker, title = self.securities.get(key := (kind, unique), (None, ""))
        if key not in self.securities:
            if kind != "TICKER":
                raise Refusal(f"the security {name} is not in the file's SECLIST", "SECID")
            ticker = unique
        if not ticker:
            raise Refusal(f"the security {name} ({title}) has no TICKER in the SECLIST", "SECID")
        instrument = load_universe().get(ticker)
        if instrument is None:
            about = f"{title}, {name}" if title else name
            raise Refusal(f"{ticker} ({about}) is not an instrument Flint knows", "SECID")
        return instrument.symbol

    def add(self, source_id: str, elements: Mapping[str, str] = TRADE, **values: Any) -> None:
        self.reader.add(self.where, source_id, elements, **values)


def _sum(parent: Any, *names: str) -> Decimal:
    return sum(
        (number(getattr(parent, n.lower(), None), n) or Decimal(0) for n in names), Decimal(0)
    )


def _taxes(at: _At, source_id: str, amount: Decimal, element: str, **values: Any) -> None:
    """A trade's or an income's taxes as a tax row on the position (none when 0)."""
    if amount:
        elements = {**TRADE, "amount": element}
        at.add(f"{source_id}#tax", elements, type="tax", amount=amount, **values)


def _trade(at: _At, txn: Any) -> None:
    buying = hasattr(txn, "invbuy")
    inner = txn.invbuy if buying else txn.invsell
    kind = getattr(txn, "buytype" if buying else "selltype", None)
    if kind in ("BUYTOCOVER", "SELLSHORT"):
        why = f"{kind}: Flint's ledger has no short positions"
        raise Refusal(why, "BUYTYPE" if buying else "SELLTYPE")
    if number(getattr(txn, "accrdint", None), "ACCRDINT"):
        why = "a bond's accrued interest is not imported: enter the trade by hand"
        raise Refusal(why, "ACCRDINT")
    units = number(inner.units, "UNITS")
    fee = _sum(inner, "COMMISSION", "FEES", "LOAD", *(() if buying else ("PENALTY",)))
    taxes = _sum(inner, "TAXES", *(() if buying else ("WITHHOLDING", "STATEWITHHOLDING")))
    common = {
        "date": inner.invtran.dttrade.date(),
        "symbol": at.symbol(inner.secid),
        "currency": at.reader.currency(inner),
    }
    fitid = str(inner.invtran.fitid)
    at.add(
        fitid,
        type="buy" if buying else "sell",
        quantity=abs(units) if units is not None else None,
        price=number(inner.unitprice, "UNITPRICE"),
        fee=fee,
        **common,
    )
    _taxes(at, fitid, taxes, "TAXES", **common)


def _income(at: _At, txn: Any, total: Decimal | None, fitid: str) -> dict[str, Any]:
    """The income row of an ``INCOME`` or a ``REINVEST`` (interest, or a dividend on the
    position); what its other rows share."""
    if not total:
        raise Refusal("a TOTAL of 0 is no income", "TOTAL")
    common = {"date": txn.invtran.dttrade.date(), "currency": at.reader.currency(txn)}
    if txn.incometype == "INTEREST":
        at.add(fitid, type="interest", amount=total, **common)
        return common
    common["symbol"] = at.symbol(txn.secid)
    at.add(fitid, type="dividend", amount=total, **common)
    return common


def _income_only(at: _At, txn: Any) -> None:
    total = number(txn.total, "TOTAL")
    if total is not None and total < 0:
        raise Refusal("a negative TOTAL (a reversal) is not imported", "TOTAL")
    fitid = str(txn.invtran.fitid)
    common = _income(at, txn, total, fitid)
    _taxes(at, fitid, _sum(txn, "WITHHOLDING"), "WITHHOLDING", **common)


def _reinvest(at: _At, txn: Any) -> None:
    total = number(txn.total, "TOTAL")
    fitid = str(txn.invtran.fitid)
    common = _income(at, txn, abs(total) if total is not None else None, fitid)
    common.setdefault("symbol", at.symbol(txn.secid))
    units = number(txn.units, "UNITS")
    at.add(
        f"{fitid}#buy",
        type="buy",
        quantity=abs(units) if units is not None else None,
        price=number(txn.unitprice, "UNITPRICE"),
        fee=_sum(txn, "COMMISSION", "FEES", "LOAD"),
        **common,
    )
    _taxes(at, fitid, _sum(txn, "TAXES"), "TAXES", **common)


def _cash_out(type_: str, with_symbol: bool) -> Callable[[_At, Any], None]:
    """``RETOFCAP`` (money in, a dividend), ``MARGININTEREST`` and ``INVEXPENSE`` (fees)."""

    def read(at: _At, txn: Any) -> None:
        total = number(txn.total, "TOTAL")
        values: dict[str, Any] = {
            "type": type_,
            "amount": abs(total) if total is not None else None,
            "date": txn.invtran.dttrade.date(),
            "currency": at.reader.currency(txn),
        }
        if with_symbol:
            values["symbol"] = at.symbol(txn.secid)
        at.add(str(txn.invtran.fitid), **values)

    return read


def _split(at: _At, txn: Any) -> None:
    numerator, denominator = (
        number(txn.numerator, "NUMERATOR"),
        number(txn.denominator, "DENOMINATOR"),
    )
    if not denominator or numerator is None:
        raise Refusal("a split needs a DENOMINATOR other than 0", "DENOMINATOR")
    if number(txn.fraccash, "FRACCASH"):
        raise Refusal(
            "cash for fractional shares is not imported: enter the split by hand", "FRACCASH"
        )
    at.add(
        str(txn.invtran.fitid),
        {**TRADE, "quantity": "NUMERATOR"},
        type="split",
        quantity=numerator / denominator,
        date=txn.invtran.dttrade.date(),
        symbol=at.symbol(txn.secid),
    )


def _transfer(at: _At, txn: Any) -> None:
    if txn.postype == "SHORT":
        raise Refusal("Flint's ledger has no short positions", "POSTYPE")
    if txn.tferaction == "OUT":
        why = "shares transferred out are not imported: record a sell and a withdrawal"
        raise Refusal(why, "TFERACTION")
    units, price = number(txn.units, "UNITS"), number(txn.unitprice, "UNITPRICE")
    if price is None:
        raise Refusal("a transfer in needs the UNITPRICE Flint books its shares at", "UNITPRICE")
    common = {"date": txn.invtran.dttrade.date(), "currency": at.reader.curdef}
    fitid = str(txn.invtran.fitid)
    if units is not None and units and price > 0:
        try:
            cost = (abs(units) * price).quantize(PRICE_STEP, rounding=ROUND_CEILING)
        except ArithmeticError as exc:
            raise Refusal("UNITS x UNITPRICE is beyond any amount", "UNITS") from exc
        at.add(f"{fitid}#deposit", type="deposit", amount=cost, **common)
    at.add(
        fitid,
        type="buy",
        quantity=abs(units) if units is not None else None,
        price=price,
        symbol=at.symbol(txn.secid),
        **common,
    )


def _bank(at: _At, txn: Any) -> None:
    bank_row(at.reader, at.where, txn.stmttrn)


HANDLERS: dict[str, Callable[[_At, Any], None]] = {
    **dict.fromkeys(
        (
            "BUYSTOCK",
            "BUYMF",
            "BUYOTHER",
            "BUYDEBT",
            "SELLSTOCK",
            "SELLMF",
            "SELLOTHER",
            "SELLDEBT",
        ),
        _trade,
    ),
    "INCOME": _income_only,
    "REINVEST": _reinvest,
    "RETOFCAP": _cash_out("dividend", with_symbol=True),
    "MARGININTEREST": _cash_out("fee", with_symbol=False),
    "INVEXPENSE": _cash_out("fee", with_symbol=True),
    "SPLIT": _split,
    "TRANSFER": _transfer,
    "INVBANKTRAN": _bank,
}


def read(reader: Reader, statement: ET.Element, prefix: str, known: Securities) -> None:
    """An investment statement's ``INVTRANLIST``, each transaction converted on its own."""
    tranlist = statement.find("INVTRANLIST")
    if tranlist is None:
        return
    for where, element in each(tranlist, f"{prefix}INVTRANLIST"):
        try:
            handler = HANDLERS.get(element.tag)
            if handler is None:
                why = REFUSED.get(element.tag, f"a {element.tag} is not an investment transaction")
                raise Refusal(why)
            try:
                handler(_At(reader, where, known), convert(element))
            except ArithmeticError as exc:  # sums or ratios of numbers beyond any amount
                raise Refusal("its numbers are beyond any amount") from exc
        except Refusal as refused:
            reader.refuse(where, refused)
