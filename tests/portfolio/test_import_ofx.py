"""OFX/QFX import (preset=ofx, and auto): investment statements with their SECLIST, bank and
credit-card statements, OFX 1.x (SGML) and 2.x (XML); every bad element named, nothing kept."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Account, assert_problem, error_fields

V1 = "/api/v1/portfolio"
OFX = {"Content-Type": "application/x-ofx"}
SAMPLES = Path(__file__).parent / "samples"
INVESTMENT = (SAMPLES / "investment_v1.ofx").read_bytes()
BANK = (SAMPLES / "bank_v2.ofx").read_bytes()
CARD = (SAMPLES / "card.qfx").read_bytes()


async def new_portfolio(client: httpx.AsyncClient, who: Account, base: str = "USD") -> str:
    created = await client.post(
        f"{V1}/", json={"name": "From OFX", "baseCurrency": base}, headers=who.headers
    )
    assert created.status_code == 201, created.text
    portfolio_id: str = created.json()["portfolioId"]
    return portfolio_id


async def import_file(
    client: httpx.AsyncClient, who: Account, portfolio_id: str, data: bytes, preset: str = "ofx"
) -> httpx.Response:
    return await client.post(
        f"{V1}/{portfolio_id}/import",
        params={"preset": preset},
        content=data,
        headers=who.headers | OFX,
    )


async def ledger(client: httpx.AsyncClient, who: Account, portfolio_id: str) -> list[Any]:
    response = await client.get(f"{V1}/{portfolio_id}/transactions", headers=who.headers)
    assert response.status_code == 200, response.text
    rows: list[Any] = response.json()["transactions"]
    return rows


async def performance(client: httpx.AsyncClient, who: Account, portfolio_id: str) -> Any:
    response = await client.get(f"{V1}/{portfolio_id}/performance", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


NUMBERS = ("quantity", "price", "fee", "amount")
D = Decimal


def dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def file_cash(data: bytes) -> Decimal:
    """The cash a statement moves by its own figures: every TRNAMT and every TOTAL, except a
    reinvestment's (its income buys units; no cash moves)."""
    text = re.sub(r"<REINVEST>.*?</REINVEST>", "", data.decode(), flags=re.DOTALL)
    amounts = re.findall(r"<(?:TOTAL|TRNAMT)>\s*(-?[0-9.]+)", text)
    return sum((Decimal(a) for a in amounts), Decimal(0))


def replaced(data: bytes, old: str, new: str) -> bytes:
    text = data.decode()
    assert old in text, old
    return text.replace(old, new, 1).encode()


async def test_an_investment_statement_imports_its_trades_income_and_cash(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    response = await import_file(client, alice, portfolio_id, INVESTMENT)
    assert response.status_code == 201, response.text
    rows = [
        (r["date"], r["type"], r["symbol"], *(dec(r[k]) for k in NUMBERS))
        for r in await ledger(client, alice, portfolio_id)
    ]
    assert rows == [
        ("2024-01-02", "deposit", None, None, None, D("0"), D("10000.00")),
        ("2024-01-03", "buy", "AAPL", D("20"), D("185.00"), D("5.00"), None),  # COMMISSION + FEES
        ("2024-01-04", "buy", "VTI", D("15"), D("236.40"), D("0"), None),  # by ISIN, from BUYMF
        ("2024-02-15", "dividend", "AAPL", None, None, D("0"), D("4.80")),
        ("2024-03-27", "dividend", "VTI", None, None, D("0"), D("13.65")),  # REINVEST: income...
        ("2024-03-27", "buy", "VTI", D("0.0546"), D("250.00"), D("0"), None),  # ...and its buy
        ("2024-04-12", "sell", "AAPL", D("5"), D("176.50"), D("4.95"), None),
        ("2024-04-30", "interest", None, None, None, D("0"), D("12.34")),
        ("2024-05-02", "buy", "MSFT", D("4"), D("400.00"), D("4.95"), None),
        ("2024-05-02", "tax", "MSFT", None, None, D("0"), D("0.50")),  # TAXES
        ("2024-05-31", "fee", None, None, None, D("0"), D("1.25")),  # MARGININTEREST
        ("2024-06-03", "withdrawal", None, None, None, D("0"), D("500.00")),
        ("2024-06-10", "split", "MSFT", D("2"), None, D("0"), None),
    ]

    perf = await performance(client, alice, portfolio_id)
    holdings = {h["symbol"]: h for h in perf["holdings"]}
    assert {s: Decimal(h["quantity"]) for s, h in holdings.items()} == {
        "AAPL": Decimal(15),
        "VTI": Decimal("15.0546"),
        "MSFT": Decimal(8),
    }
    assert Decimal(holdings["AAPL"]["costBasis"]) == Decimal("2778.75")  # 3705 x 15/20
    assert Decimal(holdings["VTI"]["costBasis"]) == Decimal("3559.65")  # 3546 + 13.65
    assert Decimal(holdings["MSFT"]["costBasisWithoutFees"]) == Decimal("1600.00")
    assert Decimal(perf["dividends"]) == Decimal("4.80") + Decimal("13.65")
    assert Decimal(perf["totals"]["cash"]) == file_cash(INVESTMENT) == Decimal("1536.99")


async def test_a_bank_statement_in_ofx_2_xml_moves_the_cash_in_its_currency(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice, base="EUR")
    response = await import_file(client, alice, portfolio_id, BANK)
    assert response.status_code == 201, response.text
    rows = await ledger(client, alice, portfolio_id)
    assert [(r["date"], r["type"], r["amount"], r["currency"]) for r in rows] == [
        ("2024-07-01", "deposit", "2500.00", "EUR"),
        ("2024-07-08", "withdrawal", "120.40", "EUR"),
        ("2024-07-15", "fee", "4.90", "EUR"),  # SRVCHG
        ("2024-07-22", "withdrawal", "300.00", "EUR"),
        ("2024-07-31", "interest", "3.75", "EUR"),
    ]
    perf = await performance(client, alice, portfolio_id)
    assert Decimal(perf["totals"]["cash"]) == file_cash(BANK) == Decimal("2078.45")  # LEDGERBAL
    assert perf["holdings"] == []


async def test_a_rows_currency_is_its_currency_element_else_the_statements(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice, base="EUR")
    other = "<CURRENCY><CURRATE>0.92</CURRATE><CURSYM>USD</CURSYM></CURRENCY>"
    converted = "<ORIGCURRENCY><CURRATE>0.92</CURRATE><CURSYM>USD</CURSYM></ORIGCURRENCY>"
    data = replaced(BANK, "<NAME>Salary July</NAME>", f"<NAME>Salary July</NAME>{other}")
    data = replaced(data, "<NAME>Account fee</NAME>", f"<NAME>Account fee</NAME>{converted}")
    response = await import_file(client, alice, portfolio_id, data)
    assert response.status_code == 201, response.text
    rows = await ledger(client, alice, portfolio_id)
    assert [(r["type"], r["currency"]) for r in rows] == [
        ("deposit", "USD"),  # CURRENCY: its amount is in dollars
        ("withdrawal", "EUR"),
        ("fee", "EUR"),  # ORIGCURRENCY: converted to CURDEF already
        ("withdrawal", "EUR"),
        ("interest", "EUR"),
    ]


async def test_a_qfx_credit_card_statement_imports_payments_purchases_and_charges(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    response = await import_file(client, alice, portfolio_id, CARD)
    assert response.status_code == 201, response.text
    rows = await ledger(client, alice, portfolio_id)
    assert [(r["type"], r["amount"]) for r in rows] == [
        ("deposit", "800.00"),  # the payment
        ("withdrawal", "56.20"),
        ("withdrawal", "149.99"),
        ("fee", "25.00"),  # FEE
        ("fee", "3.11"),  # INT charged (negative)
    ]
    perf = await performance(client, alice, portfolio_id)
    assert Decimal(perf["totals"]["cash"]) == file_cash(CARD) == Decimal("565.70")


async def test_auto_recognises_ofx_and_qfx_by_their_headers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for data, count in ((INVESTMENT, 13), (BANK, 5), (CARD, 5)):
        portfolio_id = await new_portfolio(client, alice, base="EUR" if data is BANK else "USD")
        response = await import_file(client, alice, portfolio_id, data, preset="auto")
        assert response.status_code == 201, response.text
        assert len(response.json()["transactions"]) == count


async def test_every_element_that_cannot_be_imported_is_named_and_nothing_is_kept(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    bad = replaced(INVESTMENT, "<UNIQUEID>594918104", "<UNIQUEID>000000000")  # BUYSTOCK[2]
    bad = replaced(bad, "<TRNAMT>12.34", "<TRNAMT>twelve")  # INVBANKTRAN[2]
    bad = replaced(bad, "<UNITS>-5", "<UNITS>-0")  # SELLSTOCK[1]
    bad = replaced(bad, "<TICKER>VTI", "<TICKER>NOSUCHFUND")  # BUYMF[1], REINVEST[1]
    bad = replaced(bad, "<NUMERATOR>2", "<NUMERATOR>9E+999999")  # SPLIT[1]: no ratio
    bad = replaced(bad, "<DENOMINATOR>1", "<DENOMINATOR>1E-999999")
    transfer_out = (
        "<TRANSFER><INVTRAN><FITID>T-9<DTTRADE>20240615</INVTRAN>"
        "<SECID><UNIQUEID>037833100<UNIQUEIDTYPE>CUSIP</SECID><SUBACCTSEC>CASH<UNITS>-5"
        "<TFERACTION>OUT<POSTYPE>LONG</TRANSFER>\r\n</INVTRANLIST>"
    )
    bad = replaced(bad, "</INVTRANLIST>", transfer_out)
    response = await import_file(client, alice, portfolio_id, bad)
    body = assert_problem(response, 422)
    fields = error_fields(body)
    assert fields == {
        "INVTRANLIST/BUYSTOCK[2].SECID",
        "INVTRANLIST/INVBANKTRAN[2].TRNAMT",
        "INVTRANLIST/SELLSTOCK[1].UNITS",
        "INVTRANLIST/BUYMF[1].SECID",
        "INVTRANLIST/REINVEST[1].SECID",
        "INVTRANLIST/TRANSFER[1].TFERACTION",
        "INVTRANLIST/SPLIT[1]",
    }
    why = {e["field"]: e["message"] for e in body["errors"]}
    assert "CUSIP 000000000 is not in the file's SECLIST" in why["INVTRANLIST/BUYSTOCK[2].SECID"]
    assert "NOSUCHFUND" in why["INVTRANLIST/BUYMF[1].SECID"]
    assert "transferred out" in why["INVTRANLIST/TRANSFER[1].TFERACTION"]
    assert await ledger(client, alice, portfolio_id) == []

    bank = replaced(BANK, "<TRNAMT>3.75</TRNAMT>", "<TRNAMT>NaN</TRNAMT>")
    response = await import_file(client, alice, portfolio_id, bank)
    assert error_fields(assert_problem(response, 422)) == {"BANKTRANLIST/STMTTRN[5].TRNAMT"}
    # more digits than the decimal context keeps at the largest exponent it has (a 500)
    huge = replaced(BANK, "<TRNAMT>3.75</TRNAMT>", f"<TRNAMT>{'9' * 30}E999970</TRNAMT>")
    response = await import_file(client, alice, portfolio_id, huge)
    assert error_fields(assert_problem(response, 422)) == {"BANKTRANLIST/STMTTRN[5].TRNAMT"}
    missing = replaced(CARD, "<TRNAMT>-149.99\r\n", "")
    response = await import_file(client, alice, portfolio_id, missing)
    assert error_fields(assert_problem(response, 422)) == {"BANKTRANLIST/STMTTRN[3].TRNAMT"}
    assert await ledger(client, alice, portfolio_id) == []


async def test_a_seclist_entry_that_is_no_security_is_named_not_a_server_error(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Found by `make fuzz`: with a BUYMF's ``</SECID>`` gone and ``<NaN>`` where the second
    ``<STOCKINFO>`` opens, ofxtools reads a SECLIST entry as a bare SECINFO, and its missing
    ``secinfo`` escaped as an AttributeError (a 500). It is named, and nothing is kept."""
    portfolio_id = await new_portfolio(client, alice)
    text = INVESTMENT.decode().replace("\r\n", "\n")  # as the fuzz test reads the sample
    first, second, *rest = text.split("<STOCKINFO>")
    bad = first + "<STOCKINFO>" + second + "<NaN>" + "<STOCKINFO>".join(rest)
    bad = replaced(bad.encode(), "<UNIQUEIDTYPE>ISIN\n</SECID>\n<UNITS>15", "<UNITS>15")
    response = await import_file(client, alice, portfolio_id, bad)
    body = assert_problem(response, 422)
    why = {e["field"]: e["message"] for e in body["errors"]}
    assert why["SECLIST/SECINFO[1]"] == "<SECINFO> is not a security (no SECINFO)"
    assert await ledger(client, alice, portfolio_id) == []


async def test_the_ledger_rules_name_the_element_that_breaks_them(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    oversold = replaced(INVESTMENT, "<UNITS>-5", "<UNITS>-25")
    response = await import_file(client, alice, portfolio_id, oversold)
    fields = error_fields(assert_problem(response, 422))
    assert any(f.startswith("INVTRANLIST/SELLSTOCK[1]") for f in fields), fields
    assert await ledger(client, alice, portfolio_id) == []


async def test_a_transfer_in_is_a_deposit_and_a_buy_at_its_unit_price(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    transfer_in = (
        "<TRANSFER><INVTRAN><FITID>T-8<DTTRADE>20240103</INVTRAN>"
        "<SECID><UNIQUEID>594918104<UNIQUEIDTYPE>CUSIP</SECID><SUBACCTSEC>CASH<UNITS>3"
        "<TFERACTION>IN<POSTYPE>LONG<UNITPRICE>370.25</TRANSFER>\r\n</INVTRANLIST>"
    )
    response = await import_file(
        client, alice, portfolio_id, replaced(INVESTMENT, "</INVTRANLIST>", transfer_in)
    )
    assert response.status_code == 201, response.text
    rows = [r for r in await ledger(client, alice, portfolio_id) if r["date"] == "2024-01-03"]
    assert [(r["type"], r["symbol"], *(dec(r[k]) for k in NUMBERS)) for r in rows] == [
        ("buy", "AAPL", D(20), D(185), D(5), None),
        ("deposit", None, None, None, D(0), D("1110.75")),
        ("buy", "MSFT", D(3), D("370.25"), D(0), None),
    ]
    perf = await performance(client, alice, portfolio_id)
    msft = next(h for h in perf["holdings"] if h["symbol"] == "MSFT")
    assert Decimal(msft["quantity"]) == Decimal(3 + 4) * 2  # the split doubles both
    assert Decimal(perf["totals"]["cash"]) == file_cash(INVESTMENT)  # no cash moved


async def test_a_file_that_is_not_ofx_is_refused(client: httpx.AsyncClient, alice: Account) -> None:
    portfolio_id = await new_portfolio(client, alice)
    csv = b"date,type,amount\n2024-01-02,deposit,100\n"
    body = assert_problem(await import_file(client, alice, portfolio_id, csv), 422)
    assert error_fields(body) == {"body"}
    assert "not an OFX file" in body["detail"]
    entity = replaced(
        BANK,
        '<?OFX OFXHEADER="200"',
        '<!DOCTYPE OFX [<!ENTITY big "xxxxxxxx">]>\n<?OFX OFXHEADER="200"',
    )
    body = assert_problem(await import_file(client, alice, portfolio_id, entity), 422)
    assert "DOCTYPE" in body["detail"]
    headless = await import_file(client, alice, portfolio_id, b"<OFX></OFX>", preset="auto")
    assert "OFX header is malformed" in assert_problem(headless, 422)["detail"]
    auto = await import_file(client, alice, portfolio_id, b"hello\n", preset="auto")
    assert "no preset recognises this file" in assert_problem(auto, 422)["detail"]
    assert await ledger(client, alice, portfolio_id) == []
