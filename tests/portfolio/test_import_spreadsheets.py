"""Files a spreadsheet saved: Excel's CSV in Windows-1252, its "Unicode Text" (UTF-16, tabs),
its semicolons where the decimal mark is a comma, and its ``sep=`` line. Each broker's sample
re-saved so reads to the same transactions; Flint's own CSV saved by a German Excel (numbers
with decimal commas, days as ``DD.MM.YYYY``) imports through the API; what is no text is
refused naming the body."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from flint.portfolio import imports
from flint.portfolio.imports import text
from flint.portfolio.imports.base import ImportRefused
from tests.conftest import Account, assert_problem, error_fields
from tests.portfolio.test_import_export import new_portfolio
from tests.portfolio.test_import_presets import CASES

V1 = "/api/v1/portfolio"
SAMPLES = Path(__file__).parent / "samples"
CSV_CASES = [case for case, (file, *_) in CASES.items() if file.endswith(".csv")]


def resaved(data: bytes, separator: str, encoding: str, *, sep_line: bool = False) -> bytes:
    """``data`` (a UTF-8 CSV) as a spreadsheet saves it: the same cells, another separator
    (quoting what holds it) and encoding."""
    out = io.StringIO()
    if sep_line:
        out.write(f"sep={separator}\r\n")
    writer = csv.writer(out, delimiter=separator, lineterminator="\r\n")
    writer.writerows(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize(
    ("separator", "encoding", "sep_line"),
    [
        (";", "cp1252", False),  # Excel's "CSV" where the decimal mark is a comma
        ("\t", "utf-16", False),  # Excel's "Unicode Text"
        (";", "utf-8-sig", True),  # "CSV UTF-8" with the separator named
        (",", "cp1252", False),
    ],
    ids=["semicolons-1252", "unicode-text", "sep-line", "commas-1252"],
)
@pytest.mark.parametrize("case", CSV_CASES)
def test_a_broker_export_saved_by_a_spreadsheet_reads_the_same(
    case: str, separator: str, encoding: str, sep_line: bool
) -> None:
    file, preset, *_ = CASES[case]
    original = (SAMPLES / file).read_bytes()
    expected = imports.parse(original, preset)
    saved = resaved(original, separator, encoding, sep_line=sep_line)
    assert saved != original
    for name in (preset, "auto"):
        parsed = imports.parse(saved, name)
        assert parsed.entries == expected.entries
        assert parsed.labels == [
            # the sep= line comes before the header, so every row is a line further down
            _shifted(label, 1 if sep_line else 0)
            for label in expected.labels
        ]
        assert parsed.ids == expected.ids
        assert parsed.preset == preset


def _shifted(label: str, lines: int) -> str:
    if not label.startswith("line "):
        return label
    return f"line {int(label.removeprefix('line ')) + lines}"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"date,type\n", "utf-8"),
        ("\ufeffdate,type\n".encode(), "utf-8-sig"),
        ("date,type,caf\u00e9\n".encode("utf-16-le"), None),  # no mark: NUL bytes
        ("date,type,caf\u00e9\n".encode("utf-16"), "utf-16"),
        ("date,type,caf\u00e9\n".encode("utf-16-be"), None),
        (b"\xfe\xff" + "date,\u20ac\n".encode("utf-16-be"), "utf-16"),
        ("date,type,Soci\u00e9t\u00e9 G\u00e9n\u00e9rale \u20ac\n".encode("cp1252"), "cp1252"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),
        (b"date,\x81\n", None),  # a byte Windows-1252 does not define
    ],
)
def test_the_encodings_a_file_may_be_in(data: bytes, encoding: str | None) -> None:
    assert text.encoding_of(data) == encoding
    if encoding is None:
        with pytest.raises(ImportRefused) as refused:
            text.decode(data)
        assert refused.value.problems == [("body", text.NOT_TEXT)]
    else:
        assert text.decode(data).lstrip("\ufeff").startswith("date,")


def test_the_start_of_a_file_may_end_inside_a_character() -> None:
    data = "date,type,caf\u00e9".encode()
    assert text.encoding_of(data[:-1]) == "cp1252"  # as a whole file: not UTF-8
    assert text.encoding_of(data[:-1], whole=False) == "utf-8"
    assert text.head(data, len(data) - 1).startswith("date,type,caf")


@pytest.mark.parametrize(
    ("lines", "separator"),
    [
        (["date,type,amount", "2024-01-02,deposit,100.5"], ","),
        (["date;type;amount", "02.01.2024;deposit;1.000,50"], ";"),
        # a data row with more decimal commas than its header has separators is not seen alone
        (["date;symbol;type;quantity;price;fee", "02.01.2024;AAPL;buy;1,5;185,25;1,5"], ";"),
        (["date\ttype\tamount", "2024-01-02\tdeposit\t1,5"], "\t"),
        (["Date,Description,Amount", '2024-01-02,"Fee; tax; more; words; here",1'], ","),
        (["sep=|", "date|type"], "|"),
        (["", "date;type"], ";"),
        ([], ","),
    ],
)
def test_a_files_separator(lines: list[str], separator: str) -> None:
    assert text.separator("\r\n".join(lines))[0] == separator


GERMAN_EXCEL = (
    "Date;Symbol;Type;Quantity;Price;Fee;Amount;Currency\r\n"
    "02.01.2024;;deposit;;;;10.000,00;USD\r\n"
    "03.01.2024;AAPL;buy;1,5;185,25;1,00;;USD\r\n"
    "2024-03-01;AAPL;dividend;;;;0,36;USD\r\n"
)
"""Flint's CSV opened and saved by Excel in German: semicolons, decimal commas, grouped
thousands, days as it displays them (one it left as text), Windows-1252."""


async def test_flints_csv_saved_by_a_german_excel_imports(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    response = await client.post(
        f"{V1}/{portfolio_id}/import",
        content=GERMAN_EXCEL.encode("cp1252"),
        headers=alice.headers | {"Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    rows = response.json()["transactions"]
    assert [
        (r["date"], r["type"], r["symbol"], r["quantity"], r["price"], r["fee"], r["amount"])
        for r in rows
    ] == [
        ("2024-01-02", "deposit", None, None, None, "0.00", "10000.00"),
        ("2024-01-03", "buy", "AAPL", "1.5", "185.25", "1.00", None),
        ("2024-03-01", "dividend", "AAPL", None, None, "0.00", "0.36"),
    ]


@pytest.mark.parametrize(
    ("row", "field", "why"),
    [
        ("01/02/2024;AAPL;buy;1;185,25", "line 3.date", "not a date (YYYY-MM-DD or DD.MM.YYYY)"),
        ("02.01.2024;AAPL;buy;1_000;185,25", "line 3.quantity", "is not a number"),
        ("02.01.2024;AAPL;buy;NaN;185,25", "line 3.quantity", "is not a number"),
        ("02.01.2024;AAPL;buy;1;\uff11\uff12", "line 3.price", "is not a number"),
    ],
)
async def test_a_spreadsheets_bad_cell_is_named_by_its_line_and_nothing_is_imported(
    client: httpx.AsyncClient, alice: Account, row: str, field: str, why: str
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    data = f"sep=;\r\nDate;Symbol;Type;Quantity;Price\r\n{row}\r\n".encode("utf-16")
    response = await client.post(
        f"{V1}/{portfolio_id}/import",
        content=data,
        headers=alice.headers | {"Content-Type": "text/csv"},
    )
    body = assert_problem(response, 422)
    assert error_fields(body) == {field}
    assert why in body["errors"][0]["message"]
    ledger = await client.get(f"{V1}/{portfolio_id}/transactions", headers=alice.headers)
    assert ledger.json()["transactions"] == []


async def test_a_file_that_is_no_text_is_refused_naming_the_body(
    client: httpx.AsyncClient, alice: Account
) -> None:
    portfolio_id = await new_portfolio(client, alice)
    for data in (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "date,type\n".encode("utf-16-le")):
        response = await client.post(
            f"{V1}/{portfolio_id}/import",
            params={"preset": "flint"},
            content=data,
            headers=alice.headers | {"Content-Type": "text/csv"},
        )
        body = assert_problem(response, 422)
        assert [(e["field"], e["message"]) for e in body["errors"]] == [("body", text.NOT_TEXT)]


def test_a_row_after_a_cell_holding_a_line_break_is_named_by_its_own_line() -> None:
    data = (
        b"date,symbol,type,quantity,price\n"
        b'2024-01-03,AAPL,"buy\n",1,185\n'  # lines 2 and 3
        b"2024-01-04,AAPL,buy,-1,185\n"
    )
    with pytest.raises(ImportRefused) as refused:
        imports.parse(data, "flint")
    assert [where for where, _ in refused.value.problems] == ["line 4.quantity"]
