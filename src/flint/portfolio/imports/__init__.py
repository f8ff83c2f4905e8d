"""The file formats a ledger is imported from: ``POST /portfolio/{portfolioId}/import?preset=``.

Each preset turns a file into Flint's transactions (`base.Parsed`), every refused row named by
its line (or element) with the reason, all rows or none; ``auto`` picks the first preset that
recognises the file. Add a format by writing its module here and registering its `Preset` in
`PRESETS` (and its name in `PresetName`, which the OpenAPI document lists).
"""

from __future__ import annotations

from typing import Literal

from flint.portfolio.imports import (
    degiro,
    fidelity,
    flint_csv,
    ibkr_flex,
    ofx,
    schwab,
    trading212,
)
from flint.portfolio.imports.base import ImportRefused, Parsed, Preset

__all__ = ["PRESETS", "ImportRefused", "Parsed", "Preset", "PresetName", "parse"]

PresetName = Literal[
    "flint", "ofx", "ibkr-flex", "trading212", "degiro", "schwab", "fidelity", "auto"
]

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "flint",
            "Flint's CSV (the export's columns)",
            flint_csv.parse_file,
            flint_csv.recognises,
        ),
        Preset(
            "ofx",
            "OFX or QFX statements, 1.x (SGML) and 2.x (XML): investment, bank and credit card",
            ofx.parse_file,
            ofx.recognises,
        ),
        # Each broker's recognises looks for columns of its own that Flint's CSV (which has
        # no unknown columns) never has, so the order among them does not matter.
        Preset(
            "ibkr-flex",
            "Interactive Brokers Flex Query, XML or CSV (trades, cash transactions, splits)",
            ibkr_flex.parse,
            ibkr_flex.recognises,
        ),
        Preset(
            "trading212",
            "Trading 212's CSV history export",
            trading212.parse,
            trading212.recognises,
        ),
        Preset(
            "degiro",
            "DEGIRO's Transactions or Account statement CSV (English headers)",
            degiro.parse,
            degiro.recognises,
        ),
        Preset(
            "schwab",
            "Charles Schwab's transaction history CSV",
            schwab.parse,
            schwab.recognises,
        ),
        Preset(
            "fidelity",
            "Fidelity's Accounts history CSV",
            fidelity.parse,
            fidelity.recognises,
        ),
    )
}


def parse(data: bytes, preset: str) -> Parsed:
    """The file's transactions as ``preset`` reads them (``auto``: the first that recognises
    it); `ImportRefused` names every problem."""
    if preset == "auto":
        found = next((p for p in PRESETS.values() if p.recognises(data)), None)
        if found is None:
            known = ", ".join(PRESETS)
            raise ImportRefused(
                [("body", f"no preset recognises this file; name one with ?preset= ({known})")]
            )
    else:
        found = PRESETS[preset]
    parsed = found.parse(data)
    parsed.preset = found.name
    return parsed
