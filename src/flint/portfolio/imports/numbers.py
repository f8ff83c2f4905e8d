"""Numbers and dates as brokers write them, for the import presets.

`number` reads ``1,234.56``, ``1.234,56``, ``-$10.00``, ``($10.00)``, ``€ 12,5`` and ``1 234,5``;
`day` reads a date in the formats a preset names (the first that fits). Each raises
`ValueError` with the reason, which the preset reports under the row's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

_CURRENCY_MARKS = re.compile(r"[$€£¥\s\u00a0\u202f']|\b[A-Z]{3}\b")
# ASCII digits only: `\d` and `Decimal` also take other scripts' digits (full-width,
# Arabic-Indic), which no broker writes in a number.
_GROUPED = re.compile(r"^[0-9]{1,3}(?:,[0-9]{3})+$")
_GROUPED_POINTS = re.compile(r"^[0-9]{1,3}(?:\.[0-9]{3})+$")
_PLAIN = re.compile(r"^[0-9]+(?:\.[0-9]+)?$|^\.[0-9]+$")


def number(text: str, *, decimal_comma: bool | None = None) -> Decimal:
    """The number in ``text``: currency marks, spaces and thousands separators dropped, a
    leading ``-``/``+`` or enclosing parentheses for the sign. ``decimal_comma``: whether the
    file's decimal mark is a comma, which settles only what is ambiguous (``1,234`` and
    ``1.234``; None: a point); ``12,50`` and ``1,234,567`` say their marks themselves."""
    raw = text.strip()
    if not raw:
        raise ValueError("is empty")
    body = raw
    negative = False
    if body.startswith("(") and body.endswith(")"):
        negative, body = True, body[1:-1]
    body = _CURRENCY_MARKS.sub("", body)
    if body.startswith(("+", "-")):  # not body[:1] in "+-": "" is in every string
        negative, body = negative ^ (body[0] == "-"), body[1:]
    body = _CURRENCY_MARKS.sub("", body)
    if "," in body and "." in body:
        # The later mark is the decimal one: 1,234.56 or 1.234,56.
        thousands = "," if body.rfind(",") < body.rfind(".") else "."
        mark = "." if thousands == "," else ","
        whole, _, fraction = body.rpartition(mark)
        grouped = _GROUPED if thousands == "," else _GROUPED_POINTS
        if not grouped.fullmatch(whole):
            raise ValueError(f"{raw!r} is not a number")
        body = f"{whole.replace(thousands, '')}.{fraction}"
    elif "," in body:
        # A comma groups thousands where it must (1,234,567) or where the file's mark is a
        # point and it may (1,234); else it is the decimal mark (12,50).
        if body.count(",") > 1 or (_GROUPED.fullmatch(body) and not decimal_comma):
            if not _GROUPED.fullmatch(body):
                raise ValueError(f"{raw!r} is not a number")
            body = body.replace(",", "")
        else:
            body = body.replace(",", ".")
    elif "." in body and (body.count(".") > 1 or decimal_comma):
        # Likewise a point: 1.234.567, or 1.234 where the file's mark is a comma.
        if _GROUPED_POINTS.fullmatch(body):
            body = body.replace(".", "")
        elif body.count(".") > 1:
            raise ValueError(f"{raw!r} is not a number")
    if not _PLAIN.fullmatch(body):
        raise ValueError(f"{raw!r} is not a number")
    try:
        value = Decimal(body)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only digits
        raise ValueError(f"{raw!r} is not a number") from exc
    return -value if negative else value


def optional_number(text: str | None, *, decimal_comma: bool | None = None) -> Decimal | None:
    """`number`, or None for an empty cell (also ``--`` and ``N/A``, as some exports write)."""
    if text is None or text.strip() in {"", "-", "--", "N/A", "n/a"}:
        return None
    return number(text, decimal_comma=decimal_comma)


def day(text: str, formats: Sequence[str]) -> date:
    """The date in ``text`` in the first of ``formats`` (`datetime.strptime` formats) that
    reads it whole."""
    raw = text.strip()
    for fmt in formats:
        try:
            return datetime.strptime(raw, fmt).date()  # noqa: DTZ007 - a day, no time
        except ValueError:
            continue
    raise ValueError(f"{raw!r} is not a date ({' or '.join(_shown(f) for f in formats)})")


def _shown(fmt: str) -> str:
    for code, shown in (("%Y", "YYYY"), ("%m", "MM"), ("%d", "DD"), ("%H", "hh"), ("%M", "mm")):
        fmt = fmt.replace(code, shown)
    return fmt.replace("%S", "ss").replace("%z", "+hhmm").replace("%f", "ffffff")


_COMMA_DECIMAL = re.compile(r"\d,(?:\d{1,2}|\d{4,})$|\d\.\d{3},\d")
_POINT_DECIMAL = re.compile(r"\d\.(?:\d{1,2}|\d{4,})$|\d,\d{3}\.\d")


def decimal_comma_in(cells: Iterable[str]) -> bool | None:
    """Whether a file's numbers use a decimal comma, told by the cells that show it
    (``12,50``, ``1.234,5``); None when none does (a lone comma then groups thousands only
    in ``1,234``)."""
    for cell in cells:
        text = cell.strip()
        if _COMMA_DECIMAL.search(text):
            return True
        if _POINT_DECIMAL.search(text):
            return False
    return None
