"""A CSV file's text and its separator, as spreadsheets save them.

Encodings: UTF-8, with or without its byte-order mark; UTF-16 with its mark (Excel's
"Unicode Text"); Windows-1252, what Excel's "CSV" writes on Windows in Western locales (a
file that is not UTF-8). No text holds a NUL byte: a file that does is refused.

Separators: the comma; the semicolon, which Excel writes where the decimal mark is a comma
(German, French, Dutch...); the tab ("Unicode Text"); or the one Excel's ``sep=`` first line
names. Otherwise the file's separator is the one that a line of its first `SAMPLE_LINES`
has most of, outside quotes (a header has no decimal marks, and a row fewer numbers than
separators).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from flint.portfolio.imports.base import ImportRefused
from flint.portfolio.imports.numbers import decimal_comma_in, number

if TYPE_CHECKING:
    from _csv import Reader

NOT_TEXT = "the file is not text in UTF-8, UTF-16 (with its byte-order mark) or Windows-1252"
SEPARATORS = (",", ";", "\t")
"""In order of preference when lines have as many of each."""
SAMPLE_LINES = 12
"""The lines a file's separator is told by."""

_MARKS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SEP_LINE = re.compile(r"sep=(.)", re.IGNORECASE)


def encoding_of(data: bytes, *, whole: bool = True) -> str | None:
    """The encoding ``data`` is in (`NOT_TEXT` lists them), None when none fits. ``whole``
    False: ``data`` is the start of a file, which may end inside a UTF-8 character."""
    for mark, name in _MARKS:
        if data.startswith(mark):
            return name
    if b"\0" in data:  # no text holds one; binary files and UTF-16 without its mark do
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not whole and exc.reason == "unexpected end of data":
            return "utf-8"
    else:
        return "utf-8"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    return "cp1252"


def decode(data: bytes) -> str:
    """The file's text; `ImportRefused` (``body``) when it is in none of the encodings."""
    encoding = encoding_of(data)
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:  # UTF-16 cut short or with a lone surrogate
            pass
    raise ImportRefused([("body", NOT_TEXT)])


def head(data: bytes, size: int = 8192) -> str:
    """The file's first characters, read as leniently as a preset's ``recognises`` needs."""
    sample = data[:size]
    return sample.decode(encoding_of(sample, whole=False) or "utf-8", errors="replace")


def separator(text: str) -> tuple[str, bool]:
    """The file's separator, and whether its first line is Excel's ``sep=`` naming it."""
    lines = text[:16384].splitlines()[:SAMPLE_LINES]
    if lines and (named := _SEP_LINE.fullmatch(lines[0].strip())):
        return named[1], True
    chosen, most = SEPARATORS[0], 0
    for candidate in SEPARATORS:
        count = max((_unquoted(line, candidate) for line in lines), default=0)
        if count > most:
            chosen, most = candidate, count
    return chosen, False


def reader(text: str) -> Reader:
    """A CSV reader of ``text`` by its `separator` (past a ``sep=`` line; ``line_num`` still
    counts the file's lines)."""
    delimiter, named = separator(text)
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    if named:
        next(rows, None)
    return rows


def spreadsheet_numbers(delimiter: str, cells: Iterable[str]) -> Callable[[str], Decimal] | None:
    """How a file of semicolons or tabs writes numbers: as the spreadsheet that saved it shows
    them (`numbers.number`, with the decimal mark the file's number ``cells`` show, read only
    here); None for a file of commas, whose numbers are in the one grammar of numbers."""
    if delimiter == ",":
        return None
    comma = decimal_comma_in(cells)
    return lambda cell: number(cell, decimal_comma=comma)


def _unquoted(line: str, character: str) -> int:
    """How often ``character`` is in ``line`` outside double quotes."""
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == character and not quoted:
            count += 1
    return count
