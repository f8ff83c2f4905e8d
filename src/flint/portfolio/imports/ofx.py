"""OFX and QFX statements (OFX 1.x SGML and 2.x XML; QFX is OFX with Intuit's extensions),
read with ofxtools: investment statements (``INVSTMTRS``, see `ofx_invest`) and bank and
credit-card statements (``STMTRS``, ``CCSTMTRS``).

Every transaction element is converted on its own, so a bad one is named
(``INVTRANLIST/BUYSTOCK[2]``, ``BANKTRANLIST/STMTTRN[5].TRNAMT``: the n-th element of that
name in its list) with the reason, all rows or none. Bank rows go to the portfolio's cash by
the sign of ``TRNAMT``: ``INT``/``DIV`` are interest (negative: a fee, interest charged),
``FEE``/``SRVCHG`` a fee (positive: a refund, a deposit), any other type a deposit (positive)
or a withdrawal (negative). Amounts are in the statement's ``CURDEF``, or in the row's
``CURRENCY`` when it has one (``ORIGCURRENCY`` says the amounts were already converted to
``CURDEF``, so they stay in it); Flint converts to the base currency at the day's rate.
The ``FITID`` is the row's id.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections import Counter

from flint.portfolio.imports.base import ImportRefused, Parsed

# ofxtools (and `ofx_bank`, `ofx_invest`, built on it) are imported by the first OFX file read:
# importing ofxtools takes 0.25-0.3 s, an eighth of what every API, worker and CLI process
# spent importing Flint, most of which never reads an OFX file.

_ENTITIES = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
STATEMENTS = ("INVSTMTRS", "STMTRS", "CCSTMTRS")


def recognises(data: bytes) -> bool:
    """Whether the file starts like OFX: ``OFXHEADER:`` (1.x), an XML declaration followed by
    ``<?OFX`` (2.x), or ``<OFX>`` (no header: `parse_file` says it lacks one)."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b"OFXHEADER:", b"<OFX>")) or (
        head.startswith((b"<?xml", b"<?OFX")) and b"<?OFX" in head
    )


def _tree(data: bytes) -> ET.Element:
    if _ENTITIES.search(data):
        raise ImportRefused([("body", "a DOCTYPE or ENTITY declaration is not accepted")])
    from ofxtools.Parser import OFXTree

    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(data))
    except Exception as exc:  # ofxtools raises what the text gives (syntax, value, decoding)
        why = " ".join(str(exc).split())[:200]
        raise ImportRefused([("body", f"not an OFX file: {why}")]) from exc
    root = tree.getroot()
    if root is None or root.tag != "OFX":
        raise ImportRefused([("body", "not an OFX file: its root element is not <OFX>")])
    return root


def parse_file(data: bytes) -> Parsed:
    """Every transaction of every statement in the file, in date order (the file's order
    within a day); `ImportRefused` names every one that cannot be imported."""
    from flint.portfolio.imports import ofx_bank, ofx_invest

    root = _tree(data)
    statements = [s for s in root.iter() if s.tag in STATEMENTS]
    if not statements:
        raise ImportRefused([("body", "the OFX file has no INVSTMTRS, STMTRS or CCSTMTRS")])
    problems: list[tuple[str, str]] = []
    securities = ofx_invest.securities(root, problems)
    parsed = Parsed()
    several = Counter(s.tag for s in statements)
    seen: Counter[str] = Counter()
    for statement in statements:
        seen[statement.tag] += 1
        prefix = f"{statement.tag}[{seen[statement.tag]}]/" if several[statement.tag] > 1 else ""
        curdef = (statement.findtext("CURDEF") or "").strip()
        if not _CURRENCY.match(curdef):
            problems.append((f"{prefix}{statement.tag}.CURDEF", "no ISO 4217 currency code"))
            continue
        reader = ofx_bank.Reader(curdef, parsed, problems)
        if statement.tag == "INVSTMTRS":
            ofx_invest.read(reader, statement, prefix, securities)
        else:
            ofx_bank.read(reader, statement, prefix)
    if problems:
        raise ImportRefused(problems)
    if not parsed.entries:
        raise ImportRefused([("body", "the OFX file has no transactions")])
    order = sorted(range(len(parsed.entries)), key=lambda i: parsed.entries[i].date)
    return Parsed(
        [parsed.entries[i] for i in order],
        [parsed.labels[i] for i in order],
        [parsed.ids[i] for i in order],
    )
