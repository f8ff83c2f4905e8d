"""The presets' reading of brokers' files without the ledger: numbers and dates as brokers
write them, which preset recognises which file, the brokers' ids, listings outside the US,
and the rows each format leaves out or refuses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flint.portfolio import imports
from flint.portfolio.imports.numbers import day, decimal_comma_in, number
from tests.portfolio.test_import_export import GOOD
from tests.portfolio.test_import_presets import CASES

SAMPLES = Path(__file__).parent / "samples"
MONEY = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2)


@given(MONEY)
def test_a_number_reads_back_in_every_way_brokers_write_it(value: Decimal) -> None:
    grouped = f"{abs(value):,.2f}"
    european = grouped.replace(",", " ").replace(".", ",").replace(" ", ".")
    sign = "-" if value < 0 else ""
    assert number(f"{value:.2f}") == value
    assert number(f"{sign}{grouped}") == value
    assert number(f"{sign}${grouped}") == value  # Schwab: -$1,234.56
    assert number(f"{sign}{european}", decimal_comma=True) == value  # 1.234,56
    assert number(f"€ {sign}{european}", decimal_comma=True) == value
    if value < 0:
        assert number(f"(${grouped})") == value  # accounting negatives
    assert number(f"{sign}{abs(value):.2f}".replace(".", ",")) == value  # 12,50 alone


@pytest.mark.parametrize(
    ("text", "comma", "expected"),
    [
        ("1,234", None, Decimal("1234")),  # grouping, told by its three digits
        ("1,234", True, Decimal("1.234")),  # the file's decimal comma says otherwise
        ("1.234", True, Decimal("1234")),
        ("0,5", None, Decimal("0.5")),
        ("1'234.50", None, Decimal("1234.50")),
        ("+3", None, Decimal("3")),
        ("USD 12.00", None, Decimal("12.00")),
        ("12,50", False, Decimal("12.50")),  # no grouping: the comma is the decimal mark
        ("1.234.567", None, Decimal("1234567")),
        ("1,234,567", True, Decimal("1234567")),
        ("1.5", True, Decimal("1.5")),  # a point in a comma file where it cannot group
    ],
)
def test_the_ambiguous_numbers(text: str, comma: bool | None, expected: Decimal) -> None:
    assert number(text, decimal_comma=comma) == expected


@pytest.mark.parametrize(
    "text", ["", "abc", "1,2,3", "1.2.3", "NaN", "Infinity", "--5", "1e5", "1,2.5", "12.3,4.5"]
)
def test_what_is_no_number(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a number|is empty"):
        number(text)


def test_the_decimal_mark_of_a_file() -> None:
    assert decimal_comma_in(["", "10", "-1855,00"]) is True
    assert decimal_comma_in(["1.855,5"]) is True
    assert decimal_comma_in(["-1855.00"]) is False
    assert decimal_comma_in(["1,234", "10"]) is None


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)))
def test_a_date_reads_back_in_each_format(value: date) -> None:
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%d-%m-%Y", "%m/%d/%Y"):
        assert day(value.strftime(fmt), [fmt]) == value
    with pytest.raises(ValueError, match="not a date"):
        day(value.strftime("%Y/%m/%d"), ["%Y%m%d", "%Y-%m-%d"])


FILES = {case: (file, preset) for case, (file, preset, *_) in CASES.items()}


@pytest.mark.parametrize("case", list(FILES))
def test_each_file_is_recognised_by_its_own_preset_alone(case: str) -> None:
    file, preset = FILES[case]
    data = (SAMPLES / file).read_bytes()
    assert [p.name for p in imports.PRESETS.values() if p.recognises(data)] == [preset]


def test_flints_own_csv_is_recognised_by_flint_alone() -> None:
    recognised = [p.name for p in imports.PRESETS.values() if p.recognises(GOOD.encode())]
    assert recognised == ["flint"]


@pytest.mark.parametrize("case", list(FILES))
def test_the_brokers_ids_are_kept(case: str) -> None:
    file, preset, _, _, with_ids = CASES[case]
    parsed = imports.parse((SAMPLES / file).read_bytes(), preset)
    assert len(parsed.ids) == len(parsed.entries) == len(parsed.labels)
    assert sum(1 for source_id in parsed.ids if source_id) == with_ids


def test_the_ids_are_each_rows_own() -> None:
    parsed = imports.parse((SAMPLES / "ibkr_flex.xml").read_bytes(), "ibkr-flex")
    by_label = dict(zip(parsed.labels, parsed.ids, strict=True))
    assert by_label["Trade[1]"] == "2612345601"
    assert by_label["CorporateAction[1]"] == "2612349001"
    assert "Trade[3]" not in by_label  # the EUR.USD conversion is left out
    assert "CashTransaction[8]" not in by_label  # a summary row
    parsed = imports.parse((SAMPLES / "trading212.csv").read_bytes(), "trading212")
    assert parsed.ids[1] == "EOF2451188302"


T212_HEADER = (
    "Action,Time,ISIN,Ticker,Name,No. of shares,Price / share,Currency (Price / share),"
    "Exchange rate,Total,Currency (Total),ID\n"
)


def test_listings_outside_the_us_take_yahoo_suffixes_where_the_file_says_the_venue() -> None:
    t212 = T212_HEADER + (
        "Market buy,2024-01-03 09:00:00,IE00B3XXRP09,VUSA,Vanguard S&P 500,2,7512.5,GBX,"
        "1.00,150.25,GBP,EOF1\n"
    )
    (entry,) = imports.parse(t212.encode(), "trading212").entries
    assert (entry.symbol, entry.price, entry.currency) == ("VUSA.L", Decimal("7512.5"), "GBp")
    flex = (
        '<FlexQueryResponse><FlexStatements><FlexStatement><Trades><Trade currency="EUR" '
        'assetCategory="STK" symbol="ASML" listingExchange="AEB" transactionID="7" '
        'tradeDate="20240115" quantity="1" tradePrice="612.4" ibCommission="-3" '
        'ibCommissionCurrency="EUR"/></Trades></FlexStatement></FlexStatements>'
        "</FlexQueryResponse>"
    )
    (entry,) = imports.parse(flex.encode(), "ibkr-flex").entries
    assert (entry.symbol, entry.fee, entry.currency) == ("ASML.AS", Decimal(3), "EUR")


def test_a_listing_whose_venue_the_file_does_not_say_is_refused() -> None:
    t212 = T212_HEADER + (
        "Market buy,2024-01-03 09:00:00,NL0010273215,ASML,ASML,1,612.4,EUR,1.00,612.4,EUR,E2\n"
        "Market buy,2024-01-03 09:00:00,IE00B5BMR087,CSPX,iShares Core S&P 500,1,480.1,USD,"
        "1.00,480.1,USD,E3\n"
    )
    with pytest.raises(imports.ImportRefused) as refused:
        imports.parse(t212.encode(), "trading212")
    assert [where for where, _ in refused.value.problems] == ["line 2", "line 3"]
    assert "does not say where ASML" in refused.value.problems[0][1]
    assert "does not say where CSPX" in refused.value.problems[1][1]  # London's, in dollars
    flex = (
        '<FlexQueryResponse><FlexStatements><FlexStatement><Trades><Trade currency="EUR" '
        'assetCategory="STK" symbol="XYZ" listingExchange="MOONEX" tradeDate="20240115" '
        'quantity="1" tradePrice="1"/></Trades></FlexStatement></FlexStatements>'
        "</FlexQueryResponse>"
    )
    with pytest.raises(imports.ImportRefused) as refused:
        imports.parse(flex.encode(), "ibkr-flex")
    assert [where for where, _ in refused.value.problems] == ["Trade[1]"]


def test_a_flex_report_with_a_document_type_is_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
        "<FlexQueryResponse>&lol;</FlexQueryResponse>"
    )
    with pytest.raises(imports.ImportRefused, match="document type"):
        imports.parse(bomb.encode(), "ibkr-flex")


def test_a_flex_csv_without_header_records_reads_each_section_by_its_header() -> None:
    flex = (
        '"ClientAccountID","AccountType","CustomerType"\n'  # Account Information: not read
        '"U1","Individual","Individual"\n'
        '"ClientAccountID","CurrencyPrimary","AssetClass","Symbol","ListingExchange",'
        '"TradeDate","Quantity","TradePrice","IBCommission","TransactionID"\n'
        '"U1","USD","STK","BRK B","NYSE","20240115","2","400","-1","11"\n'
        '"ClientAccountID","CurrencyPrimary","Symbol","Quantity","MarkPrice"\n'
        '"U1","USD","BRK B","2","410"\n'
        '"ClientAccountID","CurrencyPrimary","Symbol","Date/Time","Amount","Type","TransactionID"\n'
        '"U1","USD","","2024-01-10;09:00:00","1,000.00","Deposits/Withdrawals","12"\n'
    )
    parsed = imports.parse(flex.encode(), "auto")
    assert [(e.type, e.symbol, e.date) for e in parsed.entries] == [
        ("buy", "BRK.B", date(2024, 1, 15)),
        ("deposit", None, date(2024, 1, 10)),
    ]
    assert parsed.entries[1].amount == Decimal(1000)
    assert parsed.labels == ["line 4", "line 8"]
    assert parsed.ids == ["11", "12"]


def test_degiro_thousands_with_a_decimal_comma() -> None:
    account = (
        "Date,Time,Value date,Product,ISIN,Description,FX,Change,,Balance,,Order Id\n"
        '10-01-2024,09:12,10-01-2024,,,iDEAL Deposit,,EUR,"12.500,00",EUR,"12.500,00",\n'
        '11-01-2024,09:12,11-01-2024,,,Withdrawal,,EUR,"-0,50",EUR,"12.499,50",\n'
    )
    parsed = imports.parse(account.encode(), "degiro")
    assert [(e.type, e.amount) for e in parsed.entries] == [
        ("deposit", Decimal("12500.00")),
        ("withdrawal", Decimal("0.50")),
    ]


def test_every_unmapped_row_is_named() -> None:
    schwab = (SAMPLES / "schwab.csv").read_text() + (
        '"06/20/2024","Reverse Split","AAPL","APPLE INC","-5","","",""\n'
        '"06/21/2024","Sell","AAPL","APPLE INC","abc","$1.00","",""\n'
    )
    with pytest.raises(imports.ImportRefused) as refused:
        imports.parse(schwab.encode(), "schwab")
    assert {where for where, _ in refused.value.problems} == {"line 15", "line 16.Quantity"}


def test_degiro_finds_a_us_listing_by_its_name_and_refuses_one_it_cannot() -> None:
    header = (
        "Date,Time,Product,ISIN,Reference exchange,Venue,Quantity,Price,,Local value,,Value,,"
        "Exchange rate,Transaction and/or third party fees,,Total,,Order ID\n"
    )
    row = "15-01-2024,15:32,{},{},NDQ,XNAS,1,140.00,USD,-140.00,USD,-128.32,EUR,1.0910,,,,,o{}\n"
    good = header + row.format("ALPHABET INC. - CLASS A", "US02079K3059", 1)
    (entry,) = imports.parse(good.encode(), "degiro").entries
    assert entry.symbol == "GOOGL"  # not GOOG, the class C shares
    bad = good + row.format("NO SUCH COMPANY INC", "US0000000000", 2)
    with pytest.raises(imports.ImportRefused) as refused:
        imports.parse(bad.encode(), "degiro")
    assert [where for where, _ in refused.value.problems] == ["line 3.Product"]
    assert "no US listing Flint knows by that name" in refused.value.problems[0][1]


def test_a_cancelled_flex_trade_is_refused_not_booked_as_a_sale() -> None:
    flex = (
        '<FlexQueryResponse><FlexStatements><FlexStatement><Trades><Trade currency="USD" '
        'assetCategory="STK" symbol="AAPL" listingExchange="NASDAQ" tradeDate="20240115" '
        'quantity="-1" tradePrice="185" buySell="SELL (Ca.)"/></Trades></FlexStatement>'
        "</FlexStatements></FlexQueryResponse>"
    )
    with pytest.raises(imports.ImportRefused, match="cancelled trade"):
        imports.parse(flex.encode(), "ibkr-flex")


def test_degiro_leaves_out_the_moves_inside_the_account() -> None:
    account = (
        "Date,Time,Value date,Product,ISIN,Description,FX,Change,,Balance,,Order Id\n"
        '10-01-2024,09:12,10-01-2024,,,Degiro Cash Sweep Transfer,,EUR,"-100,00",EUR,"0,00",\n'
        "10-01-2024,09:12,10-01-2024,,,Transfer from your Cash Account at flatex Bank,,EUR,"
        '"100,00",EUR,"100,00",\n'
        '11-01-2024,09:12,11-01-2024,,,Flatex Interest Income,,EUR,"0,10",EUR,"100,10",\n'
    )
    parsed = imports.parse(account.encode(), "degiro")
    assert [(e.type, e.amount) for e in parsed.entries] == [("interest", Decimal("0.10"))]


def test_schwab_and_degiro_spell_these_too() -> None:
    schwab = (
        '"Date","Action","Symbol","Description","Quantity","Price","Fees & Comm","Amount"\n'
        '"03/28/2023","Long Term Cap Gain Reinvest","VOO","VANGUARD S&P 500","","","","$99.02"\n'
        '"06/20/2023","Special Non Qual Div","VOO","VANGUARD S&P 500","","","","$11.41"\n'
        '"10/18/2023","Wire Sent","","WIRED FUNDS DISBURSED","","","","-$1,000.00"\n'
        'Transactions Total,,,,,,,"-$889.57"\n'
    )
    parsed = imports.parse(schwab.encode(), "schwab")
    assert [(e.type, e.amount) for e in parsed.entries] == [
        ("dividend", Decimal("99.02")),
        ("dividend", Decimal("11.41")),
        ("withdrawal", Decimal("1000.00")),
    ]
    account = (
        "Date,Time,Value date,Product,ISIN,Description,FX,Change,,Balance,,Order Id\n"
        '15-12-2022,16:55,15-12-2022,APPLE INC. - COMMON ST,US0378331005,"Buy 1 @ 133,9 USD",,'
        'USD,"-133,90",USD,"-133,90",5925d76b\n'
    )
    (entry,) = imports.parse(account.encode(), "degiro").entries
    assert (entry.type, entry.symbol, entry.quantity, entry.price) == (
        "buy",
        "AAPL",
        Decimal(1),
        Decimal("133.9"),
    )


def test_a_trading212_dividend_taxed_in_its_own_currency_is_grossed_up() -> None:
    t212 = (
        "Action,Time,ISIN,Ticker,Name,No. of shares,Price / share,Currency (Price / share),"
        "Total,Currency (Total),Withholding tax,Currency (Withholding tax),ID\n"
        "Dividend (Ordinary),2024-02-15 11:20:31,US0378331005,AAPL,Apple,10,0.24,USD,2.04,USD,"
        "0.36,USD,\n"
    )
    parsed = imports.parse(t212.encode(), "trading212")
    assert [(e.type, e.symbol, e.amount, e.currency) for e in parsed.entries] == [
        ("dividend", "AAPL", Decimal("2.40"), "USD"),  # 2.04 paid in + 0.36 withheld
        ("tax", "AAPL", Decimal("0.36"), "USD"),
    ]
    assert parsed.labels == ["line 2", "line 2"]


@pytest.mark.parametrize(
    ("quantity", "price"), [("1", "1e45"), ("1e45", "1"), ("1e30", "1e30"), ("0.5", "2e40")]
)
def test_a_cash_rows_amount_beyond_any_amount_is_refused(quantity: str, price: str) -> None:
    """Without an amount column a cash row's amount is quantity x price; a product too large
    to work out was taken as the quantity alone (a deposit of 1 x 1e45 became a deposit of 1)."""
    csv = f"date,type,quantity,price\n2024-01-02,deposit,{quantity},{price}\n".encode()
    with pytest.raises(imports.ImportRefused) as refused:
        imports.parse(csv, "flint")
    too_large = "must be at most 1,000,000,000,000"
    assert refused.value.problems == [("line 2.amount", too_large)]


def test_a_cash_rows_amount_is_quantity_times_price() -> None:
    csv = b"date,type,quantity,price\n2024-01-02,deposit,4,2.50\n2024-01-03,interest,,0.75\n"
    parsed = imports.parse(csv, "flint")
    assert [entry.amount for entry in parsed.entries] == [Decimal("10.00"), Decimal("0.75")]
